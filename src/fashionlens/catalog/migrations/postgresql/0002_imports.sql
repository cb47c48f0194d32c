-- The service's catalogue imports, each a job recorded here (service/imports.py): its id, state (running,
-- done, refused, failed) and record (the ImportStatus as JSON, with the worker that runs it). The partial
-- unique index lets one import run at a time, whichever service worker started it.
CREATE TABLE imports (
    key BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL UNIQUE, state TEXT NOT NULL,
    record JSONB NOT NULL);
CREATE UNIQUE INDEX imports_one_running ON imports (state) WHERE state = 'running';
