---@meta cronhost
-- Job scripts run in a sandboxed Lua 5.4 with the safe standard library (string, table,
-- math, utf8, coroutine, os.time/date/clock/difftime) and the globals below. Each capability
-- is denied unless the job's allow: list grants it.
--
-- Misuse (a wrong argument type, an unknown option field, a call outside the job's allow:
-- list) raises an error; a failure of the outside world (a refused connection, an SQL error,
-- a missing file) returns nil, err. Runs with isolation: process see the same API.

-- (This file is read by lua-language-server for completion and type checks, and is the
-- source of the cronhost-lua(7) page. tests/manuals checks it against the registered API.)

---@alias cronhost.Error string A message naming the call and what failed

---@class cronhost.Event
---@field name string The event's name, e.g. "approval.approved"
---@field payload table The event's payload

---@class cronhost.JobAllow
---@field files string[] The job's allowed folders (allow.files), as absolute paths

---@class cronhost.Job
---@field name string The job's name
---@field run_id integer This run's id
---@field trigger "schedule"|"manual"|"retry"|"catchup"|"after"|"event" What started the run
---@field scheduled_for string The slot, RFC 3339 in the job's zone
---@field attempt integer This attempt (1 for the first)
---@field max_attempts integer The last attempt: attempt == max_attempts is the time to alert
---@field event? cronhost.Event For runs an on: event fired
---@field allow cronhost.JobAllow What the job may reach
---@field params table<string, any> The job's params, read-only

--- What this run is: read-only.
---@type cronhost.Job
job = {}

--- Waits `seconds` (a fraction is fine); ends early with an error at the run's deadline or on cancel.
---@param seconds number
function sleep(seconds) end

--- Lua source from scripts/lib/NAME.lua beside the job's script (no C modules, no other folders).
---@param name string
---@return any
function require(name) end

--- Writes a line into the run's output (not into the host log).
---@param ... any Joined with tostring()
function print(...) end

--- Lines into the run's output ("[info] ...") and into the host log. Arguments are joined with tostring(); secrets show as ***.
log = {}

--- A debug line.
---@param ... any
function log.debug(...) end

--- An info line.
---@param ... any
function log.info(...) end

--- A warning line.
---@param ... any
function log.warn(...) end

--- An error line (the run does not fail by it: use error()).
---@param ... any
function log.error(...) end

--- The job's key-value store, kept across runs. Writes commit with the run's outcome.
state = {}

--- The value stored under `key`, or nil the first time.
---@param key string
---@return any value
---@return cronhost.Error? err
function state.get(key) end

--- Stores a JSON-compatible value under `key`.
---@param key string
---@param value any
---@return boolean? ok
---@return cronhost.Error? err
function state.put(key, value) end

--- Removes `key`.
---@param key string
---@return boolean? ok
---@return cronhost.Error? err
function state.delete(key) end

--- JSON text. An empty table encodes as {}; JSON null decodes to json.null.
---@class cronhost.json
---@field null lightuserdata The JSON null value (SQL NULL in db rows too)
json = {}

--- A value as JSON text; a function, a cycle or a non-string key raises.
---@param value any
---@return string
function json.encode(value) end

--- JSON text as Lua values (objects and arrays as read-only tables); text that is not JSON raises.
---@param text string
---@return any
function json.decode(text) end

---@class cronhost.HttpResponse
---@field status integer The HTTP status
---@field ok boolean true for 2xx
---@field headers table<string, string> Response headers, lower-case names
---@field body string The body
---@field url string The final URL, after redirects
---@field dry_run? boolean true when a dry run captured the request instead of sending it
local HttpResponse = {}

--- The body decoded as JSON, or nil, err when it is not JSON.
---@return any value
---@return cronhost.Error? err
function HttpResponse:json() end

---@class cronhost.HttpOptions
---@field headers? table<string, string> Request headers
---@field body? string The body, as given
---@field json? any A body encoded as JSON (sets Content-Type: application/json)
---@field timeout? number Seconds (default 30, clipped to the run's deadline)
---@field max_bytes? integer Largest response body accepted

---@class cronhost.HttpRequest: cronhost.HttpOptions
---@field method? "GET"|"HEAD"|"POST"|"PUT"|"PATCH"|"DELETE"|"OPTIONS" Default GET
---@field url string The URL (must match allow.http)

--- Requests to the URLs the job allows (allow.http). Every HTTP status is a response; nil, err only when none arrived.
http = {}

--- Any request.
---@param request cronhost.HttpRequest
---@return cronhost.HttpResponse? response
---@return cronhost.Error? err
function http.request(request) end

--- A GET request.
---@param url string
---@param options? cronhost.HttpOptions
---@return cronhost.HttpResponse? response
---@return cronhost.Error? err
function http.get(url, options) end

--- A POST request.
---@param url string
---@param options? cronhost.HttpOptions
---@return cronhost.HttpResponse? response
---@return cronhost.Error? err
function http.post(url, options) end

--- A PUT request.
---@param url string
---@param options? cronhost.HttpOptions
---@return cronhost.HttpResponse? response
---@return cronhost.Error? err
function http.put(url, options) end

--- A DELETE request.
---@param url string
---@param options? cronhost.HttpOptions
---@return cronhost.HttpResponse? response
---@return cronhost.Error? err
function http.delete(url, options) end

---@class cronhost.MailAttachment
---@field path? string A file inside allow.files
---@field name? string The attachment's name (with content)
---@field content? string The bytes themselves
---@field type? string A media type such as text/csv (default: guessed from the name)

---@class cronhost.Mail
---@field to string|string[] Recipients: name@host or "Display Name <name@host>"
---@field cc? string|string[]
---@field bcc? string|string[] Only in the envelope
---@field subject string
---@field text? string Plain body
---@field html? string HTML body
---@field attachments? cronhost.MailAttachment[] At most 25 MiB in all

---@class cronhost.MailSent
---@field message_id string The Message-ID header
---@field sent? boolean Delivered now
---@field queued? boolean The relay failed for now; the host retries it
---@field dry_run? boolean Captured by a dry run, not sent
---@field error? string Why it was queued

--- Mail through the host's SMTP relay (smtp: in the host config) to recipients the job allows (allow.mail).
mail = {}

--- Sends a mail; nil, err when the relay refused it for good (it is kept in the dead-letter file).
---@param message cronhost.Mail
---@return cronhost.MailSent? sent
---@return cronhost.Error? err
function mail.send(message) end

---@class cronhost.DbOpenOptions
---@field busy_timeout? number Seconds to wait for a locked SQLite database (default 5)

---@class cronhost.DbDumpOptions
---@field path string The backup file, inside allow.files
---@field format? "plain"|"custom" PostgreSQL's pg_dump format (default plain)
---@field gzip? boolean Compress on the fly

---@class cronhost.DbDump
---@field path string
---@field bytes integer
---@field duration_ms integer
---@field tables? integer CREATE TABLEs of a plain dump, or SQLite's tables
---@field engine string "sqlite", "postgresql" or "mysql"
---@field dry_run? boolean

---@class cronhost.DbBackup
---@field bytes integer
---@field pages integer
---@field dry_run? boolean

---@class cronhost.DbConn A connection: closes with its scope (local c <close> = ...), the run, or conn:close()
local DbConn = {}

--- Rows as tables keyed by column name (SQL NULL is json.null). Values bind to ? placeholders; one statement per call.
---@param sql string
---@param ... nil|boolean|number|string|lightuserdata
---@return table<string, any>[]? rows
---@return cronhost.Error? err
function DbConn:query(sql, ...) end

--- Runs one statement; returns the number of rows changed.
---@param sql string
---@param ... nil|boolean|number|string|lightuserdata
---@return integer? changed
---@return cronhost.Error? err
function DbConn:exec(sql, ...) end

--- Runs fn(conn) in a transaction: COMMIT when it returns, ROLLBACK and re-raise when it raises. Not available with isolation: process.
---@param fn fun(conn: cronhost.DbConn): any
---@return any
function DbConn:transaction(fn) end

--- SQLite's online backup into `path` (inside allow.files).
---@param path string
---@return cronhost.DbBackup? copy
---@return cronhost.Error? err
function DbConn:backup(path) end

--- Closes the connection; later calls raise "attempt to use a closed conn".
function DbConn:close() end

--- The databases the host config names (databases:) and the job allows (allow.db): SQLite, PostgreSQL, MySQL/MariaDB.
db = {}

--- Opens the database named `name` in the host config.
---@param name string
---@param options? cronhost.DbOpenOptions
---@return cronhost.DbConn? conn
---@return cronhost.Error? err
function db.open(name, options) end

--- A backup the engine's own tools restore: pg_dump, mariadb-dump or SQLite's online backup.
---@param name string
---@param options cronhost.DbDumpOptions
---@return cronhost.DbDump? dump
---@return cronhost.Error? err
function db.dump(name, options) end

---@class cronhost.FileInfo
---@field size integer Bytes
---@field mtime integer Modified, unix seconds
---@field dir boolean A folder
---@field path string The absolute path
---@field dry_run? boolean A file a dry run would have made

---@class cronhost.FileEntry: cronhost.FileInfo
---@field name string The entry's name in its folder

---@class cronhost.FileReadOptions
---@field max_bytes? integer Largest file read (default 16 MiB)

---@class cronhost.GzipOptions
---@field remove_source? boolean Remove the source once the .gz is in place

---@class cronhost.Gzip
---@field path string The .gz file
---@field bytes integer Its size
---@field source_bytes integer The source's size
---@field estimated? boolean A dry run's guess

---@class cronhost.PruneOptions
---@field pattern? string A glob of names, e.g. "*.gz"
---@field older_than? number Seconds
---@field keep? integer The newest to keep whatever their age

--- Files inside the folders the job allows (allow.files). Paths are absolute.
files = {}

--- The entries of a folder, by name, optionally matching a glob.
---@param folder string
---@param pattern? string
---@return cronhost.FileEntry[]? entries
---@return cronhost.Error? err
function files.list(folder, pattern) end

--- Size, modification time and kind of a file or folder.
---@param path string
---@return cronhost.FileInfo? info
---@return cronhost.Error? err
function files.stat(path) end

--- Removes a file (a symlink itself, never what it points to).
---@param path string
---@return boolean? ok
---@return cronhost.Error? err
function files.remove(path) end

--- Writes `content` atomically (temp file, fsync, rename); folders are created.
---@param path string
---@param content string
---@return integer? bytes
---@return cronhost.Error? err
function files.write(path, content) end

--- The file's bytes.
---@param path string
---@param options? cronhost.FileReadOptions
---@return string? content
---@return cronhost.Error? err
function files.read(path, options) end

--- Compresses a file into PATH.gz.
---@param path string
---@param options? cronhost.GzipOptions
---@return cronhost.Gzip? gz
---@return cronhost.Error? err
function files.gzip(path, options) end

--- Removes a folder's old files; returns the paths removed.
---@param folder string
---@param options cronhost.PruneOptions
---@return string[]? removed
---@return cronhost.Error? err
function files.prune(folder, options) end

---@class cronhost.LatestOptions
---@field prerelease? boolean Also consider pre-releases (default false)
---@field constraint? string An npm range such as ">=1.0.0 <2.0.0", "^1.2", "~1.2.3"

--- Tags of container images the job allows (allow.registry), from any OCI Distribution v2 registry.
registry = {}

--- Every tag of an image, in the registry's order.
---@param image string e.g. "ghcr.io/acme/app"
---@return string[]? tags
---@return cronhost.Error? err
function registry.tags(image) end

--- The highest tag that is a semantic version, as written ("v1.4.0"); nil, err when there is none.
---@param image string
---@param options? cronhost.LatestOptions
---@return string? tag
---@return cronhost.Error? err
function registry.latest(image, options) end

---@class cronhost.Version
---@field major integer
---@field minor integer
---@field patch integer
---@field prerelease string[] Dot-separated identifiers, e.g. {"rc", "1"}
---@field build? string Build metadata
---@field text string The version without a leading v

--- Semantic versions (SemVer 2.0.0; a leading "v" is accepted) and npm-style constraints.
semver = {}

--- The parts of a version, or nil, err when `text` is not one.
---@param text string
---@return cronhost.Version? version
---@return cronhost.Error? err
function semver.parse(text) end

--- -1, 0 or 1 by SemVer precedence; a bad version raises.
---@param a string
---@param b string
---@return integer
function semver.compare(a, b) end

--- Whether `version` is in the npm range `constraint` ("^1.2 || ~2.0").
---@param version string
---@param constraint string
---@return boolean
function semver.satisfies(version, constraint) end

--- The highest tag that is a version, as written; nil when none is.
---@param tags string[]
---@param options? cronhost.LatestOptions
---@return string?
function semver.latest(tags, options) end

---@alias cronhost.ApprovalStatus "PENDING"|"APPROVED"|"EXECUTED"|"FAILED"|"SUPERSEDED"

---@class cronhost.Approval
---@field id integer
---@field job string The job that asked
---@field kind string
---@field key string
---@field title string
---@field payload any
---@field status cronhost.ApprovalStatus
---@field requested_at string RFC 3339 UTC
---@field decided_by? string
---@field decided_at? string
---@field executed_at? string Set only for EXECUTED
---@field closed_at? string Set when it became EXECUTED, FAILED or SUPERSEDED
---@field notes? string
---@field group? string What approvals compete for
---@field superseded_by? integer
---@field created? boolean From request: false when an open one was found
---@field dry_run? boolean

---@class cronhost.ApprovalRequest
---@field kind string
---@field key string
---@field title string
---@field payload? any
---@field group? string Approving this supersedes the older open ones of the same kind and group
---@field once? boolean An EXECUTED approval with the same kind and key is the answer too
---@field notify? any Reserved

---@class cronhost.ApprovalFilter
---@field kind? string
---@field key? string
---@field job? string Another job's (must be in allow.approvals)
---@field status? cronhost.ApprovalStatus
---@field limit? integer Default 100

--- Ask a person before doing something, and act once they say yes.
approvals = {}

--- Asks for an approval, or returns the open one with the same kind and key (created = false).
---@param request cronhost.ApprovalRequest
---@return cronhost.Approval? approval
---@return cronhost.Error? err
function approvals.request(request) end

--- Approvals of this job and those allow.approvals names, newest first.
---@param filter? cronhost.ApprovalFilter
---@return cronhost.Approval[]? approvals
---@return cronhost.Error? err
function approvals.list(filter) end

--- One approval, or nil when there is none this job may see.
---@param id integer
---@return cronhost.Approval? approval
---@return cronhost.Error? err
function approvals.get(id) end

--- Marks an APPROVED approval EXECUTED.
---@param id integer
---@param notes? string
---@return boolean? ok
---@return cronhost.Error? err
function approvals.mark_executed(id, notes) end

--- Marks an APPROVED approval FAILED (the next request asks again).
---@param id integer
---@param notes? string
---@return boolean? ok
---@return cronhost.Error? err
function approvals.mark_failed(id, notes) end

--- Closes an APPROVED approval that another made moot.
---@param id integer
---@param notes? string
---@return boolean? ok
---@return cronhost.Error? err
function approvals.mark_superseded(id, notes) end

---@class cronhost.RunFilter
---@field since? number|string Seconds back from now, or an RFC 3339 time with an offset
---@field job? string
---@field status? string e.g. "failed"
---@field limit? integer Default 1000, at most 10000

---@class cronhost.Run
---@field id integer
---@field job string
---@field trigger string
---@field status string
---@field attempt integer
---@field scheduled_for string
---@field started_at string RFC 3339 UTC
---@field finished_at? string
---@field duration_ms? integer
---@field error? string
---@field notes? string

--- Read-only views of the host's own history, for reports about jobs.
host = {}

--- Runs, newest first.
---@param filter? cronhost.RunFilter
---@return cronhost.Run[]
function host.runs(filter) end

---@class cronhost.StorageSource
---@field path? string A file inside allow.files, streamed from disk
---@field content? string The bytes themselves

---@class cronhost.StoragePutOptions
---@field content_type? string
---@field metadata? table<string, string>

---@class cronhost.StoragePut
---@field key string
---@field bytes integer
---@field parts integer More than 1 for a multipart upload (S3) or blocks (Azure)
---@field dry_run? boolean

---@class cronhost.StorageGetTarget
---@field path string Where to write the object, inside allow.files

---@class cronhost.StorageGet
---@field path string
---@field bytes integer
---@field dry_run? boolean

---@class cronhost.StorageObject
---@field key string
---@field size integer
---@field modified integer Unix seconds

---@class cronhost.StoragePruneOptions
---@field older_than? number Seconds
---@field keep? integer The newest to keep whatever their age

--- Object stores the host config names (storage:) and the job allows (allow.storage): S3 and Azure Blob Storage.
storage = {}

--- Uploads a file or bytes as `key`.
---@param store string
---@param key string
---@param source cronhost.StorageSource
---@param options? cronhost.StoragePutOptions
---@return cronhost.StoragePut? put
---@return cronhost.Error? err
function storage.put(store, key, source, options) end

--- Downloads `key` into a file (complete or absent).
---@param store string
---@param key string
---@param target cronhost.StorageGetTarget
---@return cronhost.StorageGet? got
---@return cronhost.Error? err
function storage.get(store, key, target) end

--- Every object under `prefix`, in key order.
---@param store string
---@param prefix? string
---@return cronhost.StorageObject[]? objects
---@return cronhost.Error? err
function storage.list(store, prefix) end

--- Deletes `key` (a missing key too).
---@param store string
---@param key string
---@return boolean? ok
---@return cronhost.Error? err
function storage.delete(store, key) end

--- Deletes old objects under `prefix`; returns the keys deleted. older_than or keep is required.
---@param store string
---@param prefix string
---@param options cronhost.StoragePruneOptions
---@return string[]? deleted
---@return cronhost.Error? err
function storage.prune(store, prefix, options) end
