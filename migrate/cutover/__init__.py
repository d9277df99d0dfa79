"""Cut-over, rollback, status and finalize: moving endpoints scope -> shadow -> avp, one versioned write at a time.

Design
======

**The ledger is the source of truth.** ``deploy`` creates a DynamoDB table (``ledger_table`` in
``deployment.json``: partition key ``pk`` = ``"<api_id>#<stage>"``, sort key ``version`` (N)) and writes version 1.
Every change appends one item, and no item is ever changed or deleted, so the table is also the audit log::

    {"pk": "a1b2c3#prod", "version": 4, "document": "<the full mode document, JSON>",
     "at": "2026-11-26T09:05:00+00:00", "who": "<caller ARN from STS GetCallerIdentity>",
     "action": "cutover" | "rollback" | "force" | "deploy" | "finalize",
     "routes": ["GET /avp"], "from": {"GET /avp": "shadow"}, "to": {"GET /avp": "avp"},
     "evidence": {...}  or  "reason": "..."}

(an item that would pass 64 KB holds ``document``, ``routes``, ``from``, ``to``, ``evidence`` and ``details``
packed in one Binary attribute, so 1,200 routes stay far inside DynamoDB's 400 KB: :mod:`migrate.cutover.ledger`).

**A change** (:mod:`migrate.cutover.ledger`): read the newest item (Query on ``pk``, ``ScanIndexForward=false``,
``Limit=1``, ``ConsistentRead=true``), compute the next document from it (``version`` + 1, the routes changed),
and PutItem with ``ConditionExpression="attribute_not_exists(version)"``. DynamoDB evaluates that condition
against the item with the same key and fails the write with ``ConditionalCheckFailedException`` when another
writer took that version first (DynamoDB developer guide, "Condition expressions", preventing overwrites; botocore
``DynamoDB.Client.exceptions.ConditionalCheckFailedException``). Then we read again and recompute, at most
:data:`migrate.cutover.ledger.MAX_ATTEMPTS` times with exponential back-off and full jitter. Two cut-overs at once
therefore never lose an update, and versions are 1..N without gaps or duplicates. A writer recomputes from the
newest document each time: a route somebody else changed meanwhile is refused, not overwritten.

**Publishing** (:mod:`migrate.cutover.publish`): the authorizer reads the document from the SSM parameter
(``mode_parameter``). SSM PutParameter has no conditional write (only ``Overwrite``; its version number is
assigned by SSM, not checked against one we expect: SSM API reference, PutParameter), which is why the ledger
exists. After its ledger write a writer puts its document to SSM, then reads the ledger's newest item again and,
when a newer version exists, puts that one instead, until what it last put is the newest. Whoever publishes last
has read the newest version after every commit before its own put, so SSM converges to the newest version even
when publications interleave. ``status`` compares SSM's document with the ledger's newest and reports drift
(a crash between the two writes, or a hand edit); ``status --repair`` republishes the ledger's newest.

**Effective when**: the authorizer caches the document for ``AVP_AUTHZ_MODES_MAX_AGE`` seconds (30 by default;
read from the function's configuration when we can), and API Gateway may reuse a cached authorizer answer for
the authorizer's ``authorizerResultTtlInSeconds``. Every change prints both.

The commands
============

``cutover ROUTE ... [--to shadow|avp] [--evidence shadow-report.json] [--force --reason TEXT [--no-evidence]]
[--dry-run] [--yes]``
    Each route moves one step: scope -> shadow, shadow -> avp. Going to shadow needs no evidence (shadow enforces
    today's scope decision). Going to avp requires the route to be in shadow now, and the evidence
    (:mod:`migrate.cutover.evidence`) to show it ready: the route is in the report, ``ready`` is true, it saw at
    least one decision, the report's window ends after the route last entered shadow (per the ledger), does not
    end in the future (5 minutes of clock skew allowed) and ended at most ``--evidence-max-age`` hours ago (168).
    Anything else is refused, naming what is missing (the report's ``reasons`` for a route that is not ready).
    ``--force --reason`` overrides the readiness gate (not the order of the steps); the entry's action is
    ``force`` and it records the reason and the checks that were overridden. ``--force`` also needs
    ``--evidence FILE`` or an explicit ``--no-evidence`` (checked by the CLI): the entry's ``evidence`` then names
    the report (``file``, ``sha256``) or holds only ``overridden`` ("no evidence"). All routes of one invocation
    are one write: if any route is refused, nothing is written.
``rollback ROUTE ... [--to shadow|scope] [--reason TEXT] [--dry-run] [--yes]``
    A single write back to shadow (default) or scope; no gate.
``status [--evidence FILE] [--repair [--yes]]``
    Every moved endpoint: its mode, its readiness (with ``--evidence``), its last change (version, when, who,
    action) from the ledger; the ledger's and SSM's versions, and drift. Exit 2 when drift is found and not
    repaired.
``finalize [--inventory FILE] [--accept-forced ROUTE ... | --accept-forced-all] [--dry-run] [--yes]``
    Only when every endpoint the plan migrates is deployed and on avp. Removes the scope requirements left on the
    moved methods, checks that they use the Lambda authorizer, deletes the old Cognito authorizers no method uses
    any more, creates a deployment of the stage, records a ``finalize`` entry, and lists the pre-token rules and
    scopes no endpoint needs any more (:mod:`migrate.cutover.unused`). After finalize ``undeploy`` cannot put the
    Cognito authorizer back: finalize is the one-way door, which is why it waits for every endpoint, asks (or
    needs ``--yes``), and refuses endpoints that reached avp by ``--force`` without evidence until they are
    accepted by name (:func:`migrate.cutover.finalize.forced_without_evidence`).

``--dry-run`` prints the change and exits 2 when there is one, 0 when there is none; nothing is written.
Without ``--dry-run`` a write happens only with ``--yes``, or after "y" on a terminal; elsewhere the command
refuses (:mod:`migrate.cli.confirm`). Ctrl-C exits 130 naming ``status`` and ``status --repair``.
"""
