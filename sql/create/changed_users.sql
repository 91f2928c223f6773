-- Users whose events load-facts published or removed since load-dimensions last ran: their users
-- row is derived again from every published event (the latest one gives the attributes).
-- Written by load-facts, emptied by load-dimensions in the transaction that rewrites the rows,
-- whichever execution that is: an execution that ends part way leaves them to the next one.
CREATE TABLE IF NOT EXISTS changed_users (
    user_id INTEGER NOT NULL
)
DISTSTYLE ALL;
