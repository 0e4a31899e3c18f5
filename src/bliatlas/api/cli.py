"""`bli serve` (the atlas and its API on a port) and `bli users` (who may log in)."""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys

from bliatlas import settings
from bliatlas.errors import UserError


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start atlaset og API-et (http://127.0.0.1:8000)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=_workers, default=1,
                   help="antall arbeidsprosesser over den samme skrivebeskyttede databasen")
    p.add_argument("--public", action="store_true",
                   help="serveres til andre: matching (personopplysninger) krever innlogging "
                   "eller API-nøkkel; sikre informasjonskapsler")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAVN",
                   help="vertsnavn serveren svarer på (gjentas; standard: lokale navn og --host)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("users", help="brukere som kan logge inn på matching (bli serve --public)")
    usub = p.add_subparsers(dest="users_command", metavar="KOMMANDO")
    usub.required = True
    q = usub.add_parser("add", help="legg til eller endre en bruker (spør om passord)")
    q.add_argument("name", metavar="NAVN")
    q.add_argument("--password-stdin", action="store_true",
                   help="les passordet fra standard inn (for skript)")
    q.set_defaults(func=cmd_users_add)
    q = usub.add_parser("remove", help="fjern en bruker")
    q.add_argument("name", metavar="NAVN")
    q.set_defaults(func=cmd_users_remove)
    q = usub.add_parser("list", help="list brukerne")
    q.set_defaults(func=cmd_users_list)
    q = usub.add_parser("token", help="lag en ny API-nøkkel og sjekksummen til BLI_API_TOKENS")
    q.set_defaults(func=cmd_users_token)


def _workers(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"forventet et heltall, fikk {text!r}") from None
    if not 1 <= n <= 64:
        raise argparse.ArgumentTypeError(f"forventet 1–64, fikk {n}")
    return n


def cmd_serve(args) -> int:
    import uvicorn

    current = settings.get()  # validates the environment before anything starts
    hosts = list(current.allowed_hosts)
    if args.allowed_host:
        hosts = [h.lower() for h in args.allowed_host] + ["127.0.0.1", "localhost", "::1"]
    elif args.host not in ("0.0.0.0", "::") and args.host not in hosts:
        hosts.append(args.host)
    if args.public and not (current.users_file.exists() or current.api_tokens):
        raise UserError("--public: ingen brukere og ingen API-nøkler er satt opp; kjør "
                        "`bli users add NAVN` eller sett BLI_API_TOKENS (docs/deployment.md)")
    values: dict[str, object] = {"allowed_hosts": tuple(hosts)}
    if args.database:
        values["database"] = args.database
    if args.public:
        values["public"] = True
    if not current.session_secret:  # shared by all workers of this start
        values["session_secret"] = secrets.token_hex(32)
    if not current.warmup and "BLI_WARMUP" not in os.environ:
        values["warmup"] = True  # build caches before the first request
    settings.export(**values)
    where = "for andre (innlogging kreves for matching)" if args.public else "lokalt"
    print(f"Bli-atlas kjører {where} på http://{args.host}:{args.port}/ med {args.workers} "
          f"arbeidsprosess(er) (API-dokumentasjon: /docs)")
    uvicorn.run("bliatlas.api.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="warning", server_header=False,
                proxy_headers=False)
    return 0


def _read_password(args) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Passord: ")
        if getpass.getpass("Gjenta passordet: ") != password:
            raise UserError("passordene er ikke like")
    from bliatlas.api.auth import MIN_PASSWORD

    if len(password) < MIN_PASSWORD:
        raise UserError(f"passordet må ha minst {MIN_PASSWORD} tegn")
    return password


def cmd_users_add(args) -> int:
    from bliatlas.api import auth

    name = auth.check_name(args.name)
    password = _read_password(args)
    users = auth.read_users()
    existed = name in users
    users[name] = auth.hash_password(password)
    path = auth.write_users(users)
    print(f"{'Endret' if existed else 'La til'} brukeren {name} i {path}.")
    return 0


def cmd_users_remove(args) -> int:
    from bliatlas.api import auth

    users = auth.read_users()
    if args.name not in users:
        raise UserError(f"brukeren {args.name!r} finnes ikke i {settings.get().users_file}")
    del users[args.name]
    auth.write_users(users)
    print(f"Fjernet brukeren {args.name}.")
    return 0


def cmd_users_list(args) -> int:
    from bliatlas.api import auth

    users = auth.read_users()
    if not users:
        print(f"Ingen brukere i {settings.get().users_file}. Legg til med `bli users add NAVN`.")
    for name in sorted(users):
        print(name)
    return 0


def cmd_users_token(args) -> int:
    from bliatlas.api import auth

    token, digest = auth.new_token()
    print(f"API-nøkkel (vis den bare til den som skal bruke den): {token}")
    print(f"Legg sjekksummen til i BLI_API_TOKENS (kommaseparert): {digest}")
    return 0
