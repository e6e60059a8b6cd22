"""The ``serve`` subcommand: an OpenAI-compatible HTTP server (docs/SERVING.md).

    python -m rrwkv_rt serve [MODEL] --host 127.0.0.1 --port 8000
"""
from __future__ import annotations


from .device import add_device_argument
from .model_args import add_read_into_memory_argument


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve a model over an OpenAI-compatible HTTP API (needs rrwkv_rt[server])")
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help=".rrwkv model file (default: the model shipped with the package)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--fd", type=int, default=None, metavar="N",
                   help="serve on a listening socket this process inherited as file descriptor N (socket "
                        "activation; a test harness that bound the port itself); --host and --port are then unused")
    p.add_argument("--model-name", default=None, metavar="ID",
                   help="the model id clients pass (default: the file name without .rrwkv)")
    p.add_argument("--chat-template", default=None, metavar="JSON",
                   help="chat template file (default: the model's meta.chat_template, else RWKV World's)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads (default: all available)")
    p.add_argument("--fast", action="store_true",
                   help="the fast path: activations rounded to bf16 (int8 for quantized weights) for the "
                        "CPU's dot-product instructions: more throughput; outputs equal "
                        "Session(exact=False).generate (docs/FAST_PATH.md)")
    add_device_argument(p)
    add_read_into_memory_argument(p)
    p.add_argument("--capacity", type=int, default=32, metavar="N", help="most concurrent sequences (default 32)")
    p.add_argument("--max-queue", type=int, default=64, metavar="N",
                   help="most requests waiting for a row; more get 503 with Retry-After (default 64)")
    p.add_argument("--prefill-chunk", type=int, default=128, metavar="N",
                   help="prompt tokens per prefill piece (default 128, as Session: outputs then equal "
                        "Session.generate bit for bit)")
    p.add_argument("--cache-mb", type=float, default=256, metavar="MB",
                   help="memory for cached prompt states, MiB (default 256; 0 = off)")
    p.add_argument("--max-tokens-limit", type=int, default=4096, metavar="N", help="largest max_tokens (default 4096)")
    p.add_argument("--default-max-tokens", type=int, default=256, metavar="N",
                   help="max_tokens of chat requests that give none (default 256)")
    p.add_argument("--max-prompt-tokens", type=int, default=32768, metavar="N", help="longest prompt (default 32768)")
    p.add_argument("--max-prompt-bytes", type=int, default=1 << 20, metavar="N",
                   help="longest text prompt in UTF-8 bytes, checked before tokenizing (default 1048576)")
    p.add_argument("--max-body-mb", type=float, default=4, metavar="MB",
                   help="largest request body, MiB; larger ones get 413 unread (default 4)")
    p.add_argument("--request-timeout", type=float, default=600, metavar="S",
                   help="seconds a request may take, queueing included (default 600; 0 = none)")
    p.add_argument("--initial-state", action="append", default=None, metavar="NAME=FILE",
                   help="a state-tuning file (blocks.N.att.time_state, RWKV-5/6/7) requests choose by name with "
                        "\"initial_state\": \"NAME\" (repeatable)")
    p.add_argument("--header-timeout", type=float, default=10, metavar="S",
                   help="seconds a request's headers may take to arrive; then 408 and the connection closes "
                        "(default 10)")
    p.add_argument("--body-timeout", type=float, default=60, metavar="S",
                   help="seconds a request's body may take to arrive after its headers; then 408 (default 60)")
    p.add_argument("--max-connections", type=int, default=512, metavar="N",
                   help="most open connections; requests beyond get 503 (default 512)")
    p.add_argument("--api-key", default=None, metavar="KEY",
                   help="requests must send 'Authorization: Bearer KEY' (else 401); /health stays open. Default: "
                        "the environment variable RRWKV_API_KEY, else no key")
    p.add_argument("--protect-metrics", action="store_true", help="GET /metrics needs the API key too")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> None:
    import os

    from ..server import ServerConfig, serve  # ImportError (the CLI's one-line error) without the extra
    from ..server.auth import ENV_VAR
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {args.port}")
    sock = None if args.fd is None else _inherited_socket(args.fd)
    states = {}
    for item in args.initial_state or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--initial-state takes NAME=FILE, got {item!r}")
        states[name] = path
    cfg = ServerConfig(model_path=args.model, read_into_memory=args.read_into_memory, model_name=args.model_name,
                       chat_template=args.chat_template,
                       threads=args.threads, exact=not args.fast, device=args.device, capacity=args.capacity, max_queue=args.max_queue,
                       prefill_chunk=args.prefill_chunk, cache_bytes=int(args.cache_mb * 2**20),
                       max_tokens_limit=args.max_tokens_limit, default_max_tokens=args.default_max_tokens,
                       max_prompt_tokens=args.max_prompt_tokens, max_prompt_bytes=args.max_prompt_bytes,
                       max_body_bytes=int(args.max_body_mb * 2**20),
                       request_timeout=args.request_timeout if args.request_timeout > 0 else None,
                       header_timeout=args.header_timeout, body_timeout=args.body_timeout,
                       max_connections=args.max_connections, initial_states=states,
                       api_key=args.api_key if args.api_key is not None else os.environ.get(ENV_VAR) or None,
                       protect_metrics=args.protect_metrics)
    serve(cfg, host=args.host, port=args.port, log_level=args.log_level, sock=sock)


def _inherited_socket(fd: int):
    """The listening TCP socket open as file descriptor `fd`; ValueError saying what it is instead."""
    import socket
    try:
        sock = socket.socket(fileno=fd)
    except OSError as e:
        raise ValueError(f"--fd {fd} is not an open socket ({e.strerror or e}); pass the number of a listening "
                         "socket this process inherited") from None
    if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        sock.detach()
        raise ValueError(f"--fd {fd} is a socket but not a listening stream socket; call listen() on it before "
                         "handing it over")
    return sock
