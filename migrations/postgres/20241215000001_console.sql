-- The staff console (工作台, issue 13): named staff accounts, their
-- sessions, failed logins (throttling), the console's audit log, the
-- policies uploaded through it and the simulations run from it.

CREATE TABLE staff_users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('centre', 'admin')),
    password_hash TEXT NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

-- A session is found by the SHA-256 of its cookie (the cookie itself is
-- never stored). Times are Unix seconds.
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES staff_users (id),
    csrf       TEXT NOT NULL,
    address    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);

-- Failed logins, by account (`login:NAME`) and by address (`addr:IP`).
CREATE TABLE login_failures (
    subject TEXT NOT NULL,
    at      BIGINT NOT NULL
);
CREATE INDEX login_failures_subject ON login_failures (subject, at);

-- Every change made from the console: who (id, login and name as they
-- were), when, what, and the reason where one is asked.
CREATE TABLE console_audit (
    seq        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         TEXT NOT NULL,
    user_id    BIGINT,
    user_login TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    action     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    reason     TEXT,
    detail     TEXT
);
CREATE INDEX console_audit_at ON console_audit (at);

-- Policies uploaded at run time (console or POST /v1/policies); their text
-- is in `policies` by hash. Every instance loads them.
CREATE TABLE uploaded_policies (
    hash        TEXT PRIMARY KEY,
    uploaded_at TEXT NOT NULL,
    uploaded_by TEXT NOT NULL
);

-- Simulations run from the console: the request and the report (JSON).
CREATE TABLE simulation_runs (
    id          TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    title       TEXT NOT NULL,
    request     TEXT NOT NULL,
    report      TEXT NOT NULL,
    report_html TEXT NOT NULL
);
CREATE INDEX simulation_runs_created ON simulation_runs (created_at);

-- Settings the console keeps (the year's aid budget shown on 首页).
CREATE TABLE console_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
