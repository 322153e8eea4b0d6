#!/usr/bin/env bash
# Regenerates vectors.tsv from implementations independent of Roster's code:
#   bcrypt        htpasswd -B (apache2-utils: APR's own bcrypt), which writes $2y$;
#                 the same hash relabelled $2a$ and $2b$ (identical algorithm for ASCII
#                 passwords) checks those prefixes.
#   argon2i/id    the reference argon2 CLI (Debian package argon2), not libsodium.
#   pbkdf2_*      Python's hashlib.pbkdf2_hmac, written in Django's format.
#   md5, sha256   coreutils md5sum / sha256sum; sha256_salted = sha256(password + salt).
#   scrypt_firebase  Firebase's own published example (a fixed vector, not generated).
# Columns: hasher, password, digest (as given to password_digest), expected verdict.
set -euo pipefail
cd "$(dirname "$0")"
{
  printf 'hasher\tpassword\tdigest\tmatches\n'
  bcrypt=$(htpasswd -nbB -C 10 user 'correct horse' | cut -d: -f2)
  printf 'bcrypt\tcorrect horse\t%s\ttrue\n' "$bcrypt"
  printf 'bcrypt\tcorrect horsf\t%s\tfalse\n' "$bcrypt"
  printf 'bcrypt\tcorrect horse\t%s\ttrue\n' "${bcrypt/\$2y\$/\$2a\$}"
  printf 'bcrypt\tcorrect horse\t%s\ttrue\n' "${bcrypt/\$2y\$/\$2b\$}"
  argon2id=$(printf %s 'tr0ub4dor&3' | argon2 saltsaltsalt -id -t 2 -m 12 -p 1 -e)
  printf 'argon2id\ttr0ub4dor&3\t%s\ttrue\n' "$argon2id"
  printf 'argon2id\ttr0ub4dor&4\t%s\tfalse\n' "$argon2id"
  argon2id_lanes=$(printf %s 'tr0ub4dor&3' | argon2 saltsaltsalt -id -t 1 -m 10 -p 4 -e)
  printf 'argon2id\ttr0ub4dor&3\t%s\ttrue\n' "$argon2id_lanes"
  argon2i=$(printf %s 'tr0ub4dor&3' | argon2 saltsaltsalt -i -t 3 -m 12 -p 1 -e)
  printf 'argon2i\ttr0ub4dor&3\t%s\ttrue\n' "$argon2i"
  for algorithm in sha256 sha512; do
    digest=$(python3 -c "
import base64, hashlib
h = hashlib.pbkdf2_hmac('$algorithm', b'hunter2!', b'NaClNaCl', 1000)
print('pbkdf2_$algorithm\$1000\$NaClNaCl\$' + base64.b64encode(h).decode())")
    printf 'pbkdf2_%s\thunter2!\t%s\ttrue\n' "$algorithm" "$digest"
    printf 'pbkdf2_%s\thunter3!\t%s\tfalse\n' "$algorithm" "$digest"
  done
  # Clerk's export: the same, with the hash in hex; pbkdf2_sha512_hex has a hex salt too.
  clerk=$(python3 -c "
import hashlib
h = hashlib.pbkdf2_hmac('sha512', b'hunter2!', b'NaClNaCl', 1000)
print('pbkdf2_sha512\$1000\$NaClNaCl\$' + h.hex())")
  printf 'pbkdf2_sha512\thunter2!\t%s\ttrue\n' "$clerk"
  printf 'pbkdf2_sha512\thunter3!\t%s\tfalse\n' "$clerk"
  hex=$(python3 -c "
import hashlib
salt = bytes.fromhex('00ff24a5c3')
h = hashlib.pbkdf2_hmac('sha512', b'hunter2!', salt, 1000)
print('pbkdf2_sha512_hex\$1000\$' + salt.hex() + '\$' + h.hex())")
  printf 'pbkdf2_sha512_hex\thunter2!\t%s\ttrue\n' "$hex"
  printf 'pbkdf2_sha512_hex\thunter3!\t%s\tfalse\n' "$hex"
  printf 'md5\tpassword1\t%s\ttrue\n' "$(printf %s password1 | md5sum | cut -d' ' -f1)"
  printf 'md5\tpassword2\t%s\tfalse\n' "$(printf %s password1 | md5sum | cut -d' ' -f1)"
  printf 'sha256\tpassword1\t%s\ttrue\n' "$(printf %s password1 | sha256sum | cut -d' ' -f1)"
  printf 'sha256_salted\tpassword1\t%s$pepper\ttrue\n' \
    "$(printf %s password1pepper | sha256sum | cut -d' ' -f1)"
  printf 'sha256_salted\tpassword1\t%s$other\tfalse\n' \
    "$(printf %s password1pepper | sha256sum | cut -d' ' -f1)"
  # Firebase's published example (the README of Firebase's scrypt tool; reproduced by
  # independent Python, Haskell and Rust ports): password user1password, rounds 8, mem_cost 14.
  firebase='lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==$42xEC+ixf3L2lw==$jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==$Bw==$8$14'
  printf 'scrypt_firebase\tuser1password\t%s\ttrue\n' "$firebase"
  printf 'scrypt_firebase\tuser2password\t%s\tfalse\n' "$firebase"
} > vectors.tsv
