-- First statement of the batch that quarantines a log object: the one table it writes.
LOCK load_quarantine;
