//! Prints the replica's benchmark figures (not asserted: the machines are shared and noisy).
//! `BENCH_RECORDS=100000 cargo test -p kartoteka-store --release --test bench -- --ignored --nocapture`

#[test]
#[ignore = "benchmark: prints figures, run on demand"]
fn bench_apply_pulled_against_the_raw_sqlite_bound() {
    let n = std::env::var("BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let report = kartoteka_store::bench::run(dir.path(), n).expect("bench");
    println!("{report}");
}
