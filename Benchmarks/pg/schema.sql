-- PostgreSQL doing the hub's work: the event, a JSONB golden row, a change row.
CREATE TABLE events (position bigserial PRIMARY KEY, source text NOT NULL, id text NOT NULL, subject text NOT NULL,
                     body jsonb NOT NULL, ingested timestamptz NOT NULL DEFAULT now(), UNIQUE (source, id));
CREATE INDEX events_subject ON events (subject, position);
CREATE TABLE golden (subject text PRIMARY KEY, record jsonb NOT NULL, version int NOT NULL);
CREATE TABLE changes (position bigserial PRIMARY KEY, subject text NOT NULL, body jsonb NOT NULL);
