-- The operators' one write: deleting a quarantine row, which has the next run try that object
-- again (docs/runbook.md, Quarantined objects). Redshift: "DELETE operations also require the
-- SELECT privilege", granted beside it.
GRANT DELETE ON TABLE load_quarantine TO ROLE {{operators}};
