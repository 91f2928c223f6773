-- First statement of the batch that records an execution's listing: the one table it writes, in
-- the pipeline's one lock order (load_listing comes first).
LOCK load_listing;
