# Developer shortcuts. The README's two commands do not need `just`.

# Run the service on the embedded SQLite default (127.0.0.1:8000).
run:
    cargo run --release

# The whole test suite (PostgreSQL and browser tests skip visibly unless configured).
test:
    cargo test --workspace --all-features -- --show-output

# Formatting and lints, as CI runs them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --all-features -- -D warnings

# Apply pending migrations to the configured database and exit.
migrate:
    cargo run --release -- migrate

# Everything CI runs, with a throwaway PostgreSQL.
ci:
    bash .ci/run

# Load benchmark against a bare actix-web baseline, table into docs/benchmarks.md
# (`just bench --seconds 3 --no-docs`, `just bench postgres://…`). Needs wrk.
bench *ARGS:
    scripts/bench {{ARGS}}
