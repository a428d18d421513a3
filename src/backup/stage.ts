// The bytes each stage of the backup pipeline holds before it pushes back on the stage before it.
//
// Small on purpose. A buffer that waits in a deep queue lives through two of V8's young-generation collections, is
// promoted to the old generation, and is then freed only by a full mark-compact, which V8 runs when such garbage
// reaches tens of MiB. With 1 MiB per stage (and a 4 MiB gRPC window, src/etcd/client.ts) a 320 MiB snapshot of
// hex text cost 54 mark-compacts, 0.8 s of the main thread in garbage collection, and a peak RSS of 135–168 MiB;
// with 64 KiB per stage and a 1 MiB window: 2 mark-compacts, 0.3 s, 114–122 MiB, and faster, not slower (with the
// SFTP writes kept in flight, 1.93× the raw snapshot's time against 2.39×; `DR_BENCH_ON=local scripts/bench backup`).
// Block buffers that are reused (codec.ts) are not garbage and stay large.
export const STAGE_BYTES = 64 << 10
