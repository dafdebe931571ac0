// Nothing left: device maps are shared through their pins like every other
// map (the addon reuses a pinned DEVMAP/DEVMAP_HASH itself, native/src/reuse.h),
// so no map is replicated per object any more. This re-export only keeps the
// modules that still import MapHandle from here (overlay-tables.ts,
// router-tables.ts) compiling; once they import it from './pinned-maps.js',
// delete this file.
export type { MapHandle } from './pinned-maps.js';
