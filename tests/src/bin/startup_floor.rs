//! The floor for `bench-startup`: a std-only program that makes the two Lambda Runtime API calls a
//! function makes for one event (`GET .../invocation/next`, `POST .../response`) and nothing
//! else. Its figures are what process spawn and one local HTTP round trip cost on the machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

fn main() -> std::io::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").map_err(std::io::Error::other)?;
    let mut stream = TcpStream::connect(&api)?;
    stream.set_nodelay(true)?;
    let get = format!("GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: {api}\r\n\r\n");
    stream.write_all(get.as_bytes())?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut length = 0usize;
    let mut id = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::other("runtime API closed the connection"));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            } else if name.eq_ignore_ascii_case("lambda-runtime-aws-request-id") {
                id = value.trim().to_string();
            }
        }
    }
    let mut event = vec![0u8; length];
    reader.read_exact(&mut event)?;
    let post = format!(
        "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: {api}\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    stream.write_all(post.as_bytes())?;
    let mut status = String::new();
    reader.read_line(&mut status)?;
    Ok(())
}
