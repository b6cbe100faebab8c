-- ClickNBack demo data. Applied by hand or by the ops scripts only, never on deploy:
--   docker compose exec -T db psql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -v ON_ERROR_STOP=1 < app/seeds/all.sql
-- Idempotent: running it again resets the demo admin's password and role and the demo
-- merchants' rates, and creates nothing twice. Needs the schema (`app migrate`) first.

BEGIN;

-- The demo admin: admin@clicknback.com / demo1234 (public demo credentials).
-- The password is stored as an argon2id hash, like every other password.
INSERT INTO users (email, password_hash, full_name, role)
VALUES (
    'admin@clicknback.com',
    '$argon2id$v=19$m=19456,t=2,p=1$98f1ooU/N3cvLTuJvDz5Iw$RDY5BloxG3OXUNYQJbR0q0bGD5qGqencMsulerAxao4',
    'Demo Admin',
    'admin'
)
ON CONFLICT (email) DO UPDATE
SET password_hash = EXCLUDED.password_hash, full_name = EXCLUDED.full_name, role = EXCLUDED.role;

INSERT INTO merchants (name, cashback_percentage)
VALUES
    ('Acme Outdoor', 5.00),
    ('Bookworm Books', 2.50),
    ('Daily Grocer', 1.00),
    ('Gadget Hub', 3.75),
    ('Travel Nest', 7.00)
ON CONFLICT (name) DO UPDATE
SET cashback_percentage = EXCLUDED.cashback_percentage;

COMMIT;
