/**
 * WebGPU's numeric flags, as the specification fixes them. Using these instead of the
 * `GPUBufferUsage` / `GPUMapMode` globals keeps the core free of any global set-up: Dawn's Node
 * bindings only define those globals when asked to, browsers always do.
 */
export const BufferUsage = {
  MAP_READ: 0x0001,
  MAP_WRITE: 0x0002,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  INDEX: 0x0010,
  VERTEX: 0x0020,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
  INDIRECT: 0x0100,
  QUERY_RESOLVE: 0x0200,
} as const;

export const MapMode = { READ: 0x0001, WRITE: 0x0002 } as const;
