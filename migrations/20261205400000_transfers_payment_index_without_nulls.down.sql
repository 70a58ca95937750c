DROP INDEX transfers_payment;
CREATE INDEX transfers_payment ON transfers (payment_id);
