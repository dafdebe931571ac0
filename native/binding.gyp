{
  # Built with: ../node_modules/.bin/node-gyp rebuild --nodedir=/usr
  "targets": [
    {
      "target_name": "xdpnet_native",
      "sources": [
        "src/module.cc",
        "src/errors.cc",
        "src/args.cc",
        "src/info.cc",
        "src/handle.cc",
        "src/object.cc",
        "src/map.cc",
        "src/program.cc",
        "src/link.cc",
        "src/btf.cc",
        "src/reuse.cc"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_CPP_EXCEPTIONS",
        # std::bad_alloc etc. become JS errors instead of std::terminate.
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      # node's common.gypi adds -fno-exceptions and -Wno-unused-parameter; drop
      # both (exceptions are used; unused parameters should stay visible).
      "cflags!": ["-fno-exceptions", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      # node-addon-api is included as a system header so that the strict
      # warning set (-Wconversion, -Wshadow, ...) applies to our code only.
      # C++ exceptions are on: failures are thrown as Napi::Error(BpfError).
      "cflags_cc": [
        "-isystem<!(node -p \"require('path').resolve(require('node-addon-api').include_dir)\")",
        "-std=c++17",
        "-fexceptions",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-Wshadow",
        "-Wconversion",
        "-Wsign-conversion",
        "-Wnon-virtual-dtor",
        "-Wold-style-cast",
        "-Wnull-dereference",
        "-Wformat=2"
      ],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
