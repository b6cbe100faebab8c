-- Users: people who earn cashback, and the admins who manage merchants.
CREATE TABLE users (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stored lower-cased by the app; the check keeps the unique constraint case-insensitive.
    email         TEXT NOT NULL CONSTRAINT users_email_key UNIQUE
                  CONSTRAINT users_email_lowercase CHECK (email = lower(email)),
    -- An argon2id PHC string; the password itself is never stored.
    password_hash TEXT NOT NULL,
    full_name     TEXT NOT NULL,
    role          TEXT NOT NULL DEFAULT 'user' CONSTRAINT users_role_check CHECK (role IN ('user', 'admin')),
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
