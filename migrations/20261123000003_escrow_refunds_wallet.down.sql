DROP TABLE wallet_transactions;
DROP TABLE refunds;
DROP TABLE escrow_holds;
