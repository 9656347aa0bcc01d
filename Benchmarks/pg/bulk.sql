\set base random(1, 2000000000)
BEGIN;
INSERT INTO events (source, id, subject, body)
  SELECT 'gongan', 'bulk-' || :client_id || '-' || (:base + g), 'person/' || (:base + g), jsonb_build_object('name', '批量' || g, 'regionCode', '330203')
  FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING;
INSERT INTO golden (subject, record, version)
  SELECT 'person/' || (:base + g), jsonb_build_object('name', jsonb_build_object('value', '批量' || g, 'source', 'gongan')), 1
  FROM generate_series(1, 1000) g
  ON CONFLICT (subject) DO UPDATE SET record = golden.record || excluded.record, version = golden.version + 1;
INSERT INTO changes (subject, body) SELECT 'person/' || (:base + g), jsonb_build_object('changes', jsonb_build_array('name')) FROM generate_series(1, 1000) g;
END;
