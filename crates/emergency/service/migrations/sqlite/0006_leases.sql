-- Which replica runs the dispatch of an open case (taken over when the lease expires).
CREATE TABLE dispatch_leases (
    case_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
