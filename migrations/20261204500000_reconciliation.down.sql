DROP TABLE reconciliation_lines;
DROP TABLE reconciliation_runs;
