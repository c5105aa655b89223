//! The load benchmark's yardstick (`scripts/bench`): what actix-web alone does on this machine.
//!
//! `bench-baseline PORT WORKERS` serves `GET /token_balance/` → `{"tokens": 4000}` on
//! 127.0.0.1 with no authentication, no database and no middleware, so chat-api's rows can be
//! read as a fraction of it, measured in the same run on the same machine.

use std::process::ExitCode;

use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;

/// The same body chat-api's balance endpoint answers, built the same way (per request).
async fn balance() -> HttpResponse {
    HttpResponse::Ok().json(json!({"tokens": 4000}))
}

/// `PORT WORKERS` from the command line.
fn arguments() -> Result<(u16, usize), String> {
    let mut args = std::env::args().skip(1);
    let mut next = |name: &str| {
        args.next()
            .ok_or_else(|| format!("missing {name}"))?
            .parse()
            .map_err(|e| format!("{name}: {e}"))
    };
    let port = next("PORT")?;
    let workers: u16 = next("WORKERS")?;
    Ok((port, usize::from(workers.max(1))))
}

#[actix_web::main]
async fn main() -> ExitCode {
    let (port, workers) = match arguments() {
        Ok(parsed) => parsed,
        Err(error) => {
            eprintln!("usage: bench-baseline PORT WORKERS ({error})");
            return ExitCode::from(2);
        }
    };
    let server = HttpServer::new(|| App::new().route("/token_balance/", web::get().to(balance)))
        .workers(workers)
        .bind(("127.0.0.1", port));
    match server {
        Ok(server) => match server.run().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("bench-baseline: {error}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!("bench-baseline: cannot listen on port {port}: {error}");
            ExitCode::FAILURE
        }
    }
}
