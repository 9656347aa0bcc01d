\set n random(1, 2000000000)
BEGIN;
INSERT INTO events (source, id, subject, body) VALUES ('gongan', 'pg-' || :client_id || '-' || :n, 'person/' || :n,
  jsonb_build_object('name', '压测' || :n, 'regionCode', '330203')) ON CONFLICT DO NOTHING;
INSERT INTO golden (subject, record, version) VALUES ('person/' || :n,
  jsonb_build_object('name', jsonb_build_object('value', '压测' || :n, 'source', 'gongan')), 1)
  ON CONFLICT (subject) DO UPDATE SET record = golden.record || excluded.record, version = golden.version + 1;
INSERT INTO changes (subject, body) VALUES ('person/' || :n, jsonb_build_object('changes', jsonb_build_array('name')));
END;
