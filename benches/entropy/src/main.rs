//! Prints, in nanoseconds, how long this fresh process's first and second draws of random bytes
//! from aws-lc take. The first draw seeds aws-lc's random generator: with the CPU-jitter entropy
//! source built in, that seeding runs the jitter collector; without it, the seed comes from the
//! kernel (`getrandom`). A TLS handshake's first draw is the same call, so this is what the
//! first HTTPS request of a function pays.

use std::time::Instant;

fn main() {
    let mut bytes = [0u8; 32];
    let start = Instant::now();
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        eprintln!("aws-lc: no random bytes");
        std::process::exit(1);
    }
    let first = start.elapsed();
    let start = Instant::now();
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        eprintln!("aws-lc: no random bytes");
        std::process::exit(1);
    }
    let second = start.elapsed();
    println!("{} {}", first.as_nanos(), second.as_nanos());
}
