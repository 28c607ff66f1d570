"""Stored text search for the incident history. The database keeps it current for every code path:

- incidents_timelineevent.search_vector: the message's tsvector (a generated column);
- audit_incidentsearch, one row per incident (beside the incident, not in it:
  the incident row stays narrow for every other query, and adding an event
  rewrites neither it nor its indexes):
  - vector: the title's and summary's tsvector;
  - document: every lexeme of the title, the summary and all timeline messages,
    without positions: what a search filters on while walking the newest
    incidents, or finds through one GIN index. A necessary condition only
    (audit.history checks the exact match), so a lexeme left behind costs
    nothing but a wasted check. NULL: past what a tsvector holds (1 MB), the
    incident is always a candidate.

Triggers: after incidents are inserted, after a title/summary change (the
document recomputed from the timeline), after incidents are deleted or
truncated, and after each statement that adds or changes timeline events (one
UPDATE per statement, skipped where the events bring no new lexeme). The
expression indexes of 0004 are replaced by GIN indexes on the stored vectors;
the statistics target is raised so the planner knows which words are rare (it
uses the GIN index) and which are common (it walks the newest incidents and
stops after a page). No foreign key: a TRUNCATE of the incidents (the test
runner's flush) must not need to name this table; the triggers stand in for it."""
from django.db import migrations

PG_UP = r"""
ALTER TABLE incidents_timelineevent ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, COALESCE(message, ''))) STORED;
CREATE TABLE audit_incidentsearch (
    incident_id bigint PRIMARY KEY,
    vector tsvector NOT NULL,
    document tsvector
);

-- Every lexeme of an incident: its own text's and its timeline's (NULL past 1 MB).
CREATE FUNCTION audit_incident_document(incident bigint, own tsvector) RETURNS tsvector AS $$
BEGIN
    RETURN strip(own) || COALESCE((
        SELECT array_to_tsvector(array_agg(DISTINCT lexeme))
        FROM incidents_timelineevent e, unnest(tsvector_to_array(e.search_vector)) AS lexeme
        WHERE e.incident_id = incident), ''::tsvector);
EXCEPTION WHEN program_limit_exceeded THEN
    RETURN NULL;
END;
$$ LANGUAGE plpgsql STABLE;

CREATE FUNCTION audit_incident_text(title text, summary text) RETURNS tsvector AS $$
    SELECT to_tsvector('english'::regconfig, COALESCE(title, '') || ' ' || COALESCE(summary, ''))
$$ LANGUAGE sql IMMUTABLE;

-- A new incident has no timeline yet. ON CONFLICT: a leftover row never fails an insert.
CREATE FUNCTION audit_incidents_inserted() RETURNS trigger AS $$
BEGIN
    INSERT INTO audit_incidentsearch (incident_id, vector, document)
    SELECT id, v, strip(v) FROM (SELECT id, audit_incident_text(title, summary) AS v FROM inserted) new
    ON CONFLICT (incident_id) DO UPDATE SET vector = EXCLUDED.vector, document = EXCLUDED.document;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION audit_incident_text_changed() RETURNS trigger AS $$
DECLARE
    v tsvector := audit_incident_text(NEW.title, NEW.summary);
BEGIN
    INSERT INTO audit_incidentsearch (incident_id, vector, document)
    VALUES (NEW.id, v, audit_incident_document(NEW.id, v))
    ON CONFLICT (incident_id) DO UPDATE SET vector = EXCLUDED.vector, document = EXCLUDED.document;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION audit_incidents_deleted() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE audit_incidentsearch;
    ELSE
        DELETE FROM audit_incidentsearch WHERE incident_id IN (SELECT id FROM deleted);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_incidents_search_insert AFTER INSERT ON incidents_incident
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION audit_incidents_inserted();
CREATE TRIGGER audit_incident_search_update AFTER UPDATE OF title, summary ON incidents_incident
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.summary IS DISTINCT FROM NEW.summary)
    EXECUTE FUNCTION audit_incident_text_changed();
CREATE TRIGGER audit_incidents_search_delete AFTER DELETE ON incidents_incident
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION audit_incidents_deleted();
CREATE TRIGGER audit_incidents_search_truncate AFTER TRUNCATE ON incidents_incident
    FOR EACH STATEMENT EXECUTE FUNCTION audit_incidents_deleted();

-- One UPDATE per statement (a bulk_create or a COPY of many events costs one),
-- touching only incidents that gain a lexeme: a storm of the same alert message
-- rewrites nothing.
CREATE FUNCTION audit_timeline_search_document() RETURNS trigger AS $$
DECLARE
    gained record;
BEGIN
    BEGIN
        UPDATE audit_incidentsearch s SET document = s.document || a.lexemes
        FROM (SELECT incident_id, array_to_tsvector(array_agg(DISTINCT lexeme)) AS lexemes
              FROM added, unnest(tsvector_to_array(added.search_vector)) AS lexeme GROUP BY incident_id) a
        WHERE s.incident_id = a.incident_id AND s.document IS NOT NULL
          AND length(s.document || a.lexemes) > length(s.document);
    EXCEPTION WHEN program_limit_exceeded THEN
        -- Some incident's document would pass 1 MB: redo one incident at a time,
        -- giving up (NULL: always a candidate) only on the ones that overflow.
        FOR gained IN SELECT incident_id, array_to_tsvector(array_agg(DISTINCT lexeme)) AS lexemes
                      FROM added, unnest(tsvector_to_array(added.search_vector)) AS lexeme GROUP BY incident_id
        LOOP
            BEGIN
                UPDATE audit_incidentsearch SET document = document || gained.lexemes
                WHERE incident_id = gained.incident_id AND document IS NOT NULL;
            EXCEPTION WHEN program_limit_exceeded THEN
                UPDATE audit_incidentsearch SET document = NULL WHERE incident_id = gained.incident_id;
            END;
        END LOOP;
    END;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_timeline_search_insert AFTER INSERT ON incidents_timelineevent
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION audit_timeline_search_document();
-- The application never changes an event; a script that does still must not hide it from search.
CREATE TRIGGER audit_timeline_search_update AFTER UPDATE ON incidents_timelineevent
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION audit_timeline_search_document();

INSERT INTO audit_incidentsearch (incident_id, vector, document)
SELECT id, v, audit_incident_document(id, v) FROM (SELECT id, audit_incident_text(title, summary) AS v
                                                   FROM incidents_incident) own;

CREATE INDEX audit_incidentsearch_vector_gin ON audit_incidentsearch USING gin (vector);
CREATE INDEX audit_incidentsearch_document_gin ON audit_incidentsearch USING gin (document);
CREATE INDEX audit_incidentsearch_document_missing ON audit_incidentsearch (incident_id) WHERE document IS NULL;
CREATE INDEX audit_timeline_search_gin ON incidents_timelineevent USING gin (search_vector);
ALTER TABLE audit_incidentsearch ALTER COLUMN vector SET STATISTICS 1000, ALTER COLUMN document SET STATISTICS 1000;
DROP INDEX IF EXISTS audit_incident_text_gin;
DROP INDEX IF EXISTS audit_timeline_text_gin;
-- Plans depend on these statistics (rare or common words): have them from the start.
ANALYZE audit_incidentsearch;
"""

PG_DOWN = r"""
CREATE INDEX IF NOT EXISTS audit_incident_text_gin ON incidents_incident
    USING gin (to_tsvector('english'::regconfig, COALESCE(title, '') || ' ' || COALESCE(summary, '')));
CREATE INDEX IF NOT EXISTS audit_timeline_text_gin ON incidents_timelineevent
    USING gin (to_tsvector('english'::regconfig, COALESCE(message, '')));
DROP TRIGGER IF EXISTS audit_timeline_search_update ON incidents_timelineevent;
DROP TRIGGER IF EXISTS audit_timeline_search_insert ON incidents_timelineevent;
DROP TRIGGER IF EXISTS audit_incidents_search_truncate ON incidents_incident;
DROP TRIGGER IF EXISTS audit_incidents_search_delete ON incidents_incident;
DROP TRIGGER IF EXISTS audit_incident_search_update ON incidents_incident;
DROP TRIGGER IF EXISTS audit_incidents_search_insert ON incidents_incident;
DROP FUNCTION IF EXISTS audit_timeline_search_document();
DROP FUNCTION IF EXISTS audit_incidents_deleted();
DROP FUNCTION IF EXISTS audit_incident_text_changed();
DROP FUNCTION IF EXISTS audit_incidents_inserted();
DROP FUNCTION IF EXISTS audit_incident_text(text, text);
DROP FUNCTION IF EXISTS audit_incident_document(bigint, tsvector);
DROP TABLE IF EXISTS audit_incidentsearch;
ALTER TABLE incidents_timelineevent DROP COLUMN IF EXISTS search_vector;
"""


def up(apps, schema_editor):
    schema_editor.execute(PG_UP, params=None)


def down(apps, schema_editor):
    schema_editor.execute(PG_DOWN, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_postmortems"), ("incidents", "0003_lookup_indexes")]
    operations = [migrations.RunPython(up, down)]
