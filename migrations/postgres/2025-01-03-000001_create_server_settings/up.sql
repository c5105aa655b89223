-- Values the server generates once and every process must share (the development JWT secret).
CREATE TABLE server_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
