DROP INDEX payments_gateway_intent;
DROP TABLE disputes;
