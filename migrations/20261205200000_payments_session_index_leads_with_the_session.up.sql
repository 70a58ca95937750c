-- The session index led with gateway_name. A batch of mock-page clicks finds its
-- payments by (gateway_session_id IN (…) AND gateway_name = …); planned while the table
-- was nearly empty, that lookup took gateway_name as the index condition and the
-- sessions as a filter, and a pooled connection kept the plan as the table grew: every
-- lookup read every payment of the gateway (467 index entries per lookup after 27,000
-- checkouts; paid checkouts fell from 1,740/s to 1,030/s within 16 s). Led by the
-- session, the index is only entered by the sessions named.
DROP INDEX payments_gateway_session;
CREATE UNIQUE INDEX payments_gateway_session ON payments (gateway_session_id, gateway_name);
