-- Merchants: the shops a purchase earns cashback at, with the share they pay back.
CREATE TABLE merchants (
    id                  UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                TEXT NOT NULL CONSTRAINT merchants_name_key UNIQUE,
    -- A percentage with two decimals: 2.50 means 2.50% of the purchase.
    cashback_percentage NUMERIC(5, 2) NOT NULL
                        CONSTRAINT merchants_cashback_percentage_range
                        CHECK (cashback_percentage >= 0 AND cashback_percentage <= 100),
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
