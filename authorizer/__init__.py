"""The Lambda REQUEST authorizer of avp-migrate: per route, mode ``scope``, ``shadow`` or ``avp``.

Entry point: ``authorizer.handler.lambda_handler`` (see :mod:`authorizer.handler` and ``authorizer/README.md`` for
the environment, the zip layout and the API Gateway settings).

This package is zipped into Lambda: it imports only the standard library, cryptography and, lazily, botocore.
Never pandas, moto, PyJWT, Powertools (its log and EMF line shapes are written by :mod:`authorizer.lines`) or
anything from ``migrate``.

Every dataclass here has a docstring: without one, ``dataclasses`` builds one from ``inspect.signature`` when the
class is created, at import (2 ms of the cold start for 13 classes, CPython 3.12). Records built and dropped
within one request (the request, its method ARN, the modes in force, the route resource, the shadow record) or
read once while the authorizer is built (the settings) are plain dataclasses, not frozen: a frozen one costs
about twice as much to create (CPython 3.12 generates ``__setattr__``, ``__delattr__`` and ``__hash__`` too, each
compiled at import) and its ``__init__`` sets every field through ``object.__setattr__``. What lives across
requests (configuration, mode documents, verified tokens and AVP answers in the decision cache) stays frozen.
"""

# Written into every shadow record: which authorizer code made the decision. Kept equal to the project version.
__version__ = "0.1.0"
