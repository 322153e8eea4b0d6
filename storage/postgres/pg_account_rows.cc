// PgWriteTransaction's rows for the account flows (DESIGN §10–11): sign-ups,
// sign-in attempts and tickets, OAuth states and tokens, invitations. Each
// sign-up, sign-in attempt or invitation read here is locked until COMMIT
// (FOR UPDATE), so two calls on one take turns; single-use tickets and states
// are taken with DELETE … RETURNING, so only one caller gets each.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "storage/invitation_row.h"
#include "storage/postgres/pg_rows.h"
#include "storage/postgres/pg_write_transaction.h"
#include "storage/sign_in_attempt_row.h"
#include "storage/sign_up_row.h"

namespace roster::storage {

absl::StatusOr<SignUpRecord> PgWriteTransaction::GetSignUp(
    absl::string_view sign_up_id) {
  return PgGuarded("reading a sign-up", [&]() -> absl::StatusOr<SignUpRecord> {
    // Locked until COMMIT, as users are: two calls on one sign-up (parallel
    // code guesses) take turns instead of both reading the same attempts.
    static const std::string* const kSql = new std::string(
        absl::StrCat(SelectSignUpSql(SqlDialect::kPostgres), " FOR UPDATE"));
    PgResult r = c_.Run(*kSql, PgParams().Add(sign_up_id));
    if (r.rows() == 0) {
      return absl::NotFoundError("sign-up not found");
    }
    return ReadSignUpColumns(PgRow{r, 0});
  });
}

absl::Status PgWriteTransaction::PutSignUp(const SignUpRecord& sign_up) {
  return PgGuarded("writing a sign-up", [&] {
    PgParams params;
    BindAll(params, SignUpValues(sign_up));
    static const std::string* const kSql =
        new std::string(UpsertSignUpSql(SqlDialect::kPostgres));
    c_.Run(*kSql, params);
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneSignUps(Micros cutoff,
                                                         int64_t max_rows) {
  return PgGuarded("pruning sign-ups", [&]() -> absl::StatusOr<int64_t> {
    PgResult r = c_.Run(
        "DELETE FROM sign_ups WHERE id IN (SELECT id FROM sign_ups WHERE "
        "expire_at < $1 ORDER BY expire_at LIMIT $2)",
        PgParams().Add(cutoff).Add(max_rows));
    return r.affected();
  });
}

namespace {

// The invitations whose `column` is `value`, locked until COMMIT.
std::vector<InvitationRecord> LoadPgInvitations(PgConnection& c,
                                                const char* column,
                                                absl::string_view value) {
  PgResult r = c.Run(NumberPlaceholders(absl::StrCat(
                         SelectInvitationBySql(column), " FOR UPDATE")),
                     PgParams().Add(value));
  std::vector<InvitationRecord> found;
  found.reserve(static_cast<size_t>(r.rows()));
  for (int row = 0; row < r.rows(); ++row) {
    found.push_back(ReadInvitationColumns(PgRow{r, row}));
  }
  return found;
}

}  // namespace

absl::StatusOr<SignInAttemptRecord> PgWriteTransaction::GetSignInAttempt(
    absl::string_view attempt_id) {
  return PgGuarded("reading a sign-in attempt",
                   [&]() -> absl::StatusOr<SignInAttemptRecord> {
                     // Locked until COMMIT: parallel factor checks on one
                     // attempt take turns reserving their failure.
                     static const std::string* const kSql =
                         new std::string(NumberPlaceholders(absl::StrCat(
                             SelectSignInAttemptSql(), " FOR UPDATE")));
                     PgResult r = c_.Run(*kSql, PgParams().Add(attempt_id));
                     if (r.rows() == 0) {
                       return absl::NotFoundError("sign-in attempt not found");
                     }
                     return ReadSignInAttemptColumns(PgRow{r, 0});
                   });
}

absl::Status PgWriteTransaction::PutSignInAttempt(
    const SignInAttemptRecord& attempt) {
  return PgGuarded("writing a sign-in attempt", [&] {
    static const std::string* const kSql =
        new std::string(UpsertSignInAttemptSql(SqlDialect::kPostgres));
    PgParams params;
    BindAll(params, SignInAttemptValues(attempt));
    c_.Run(*kSql, params);
    return absl::OkStatus();
  });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneSignInAttempts(
    Micros cutoff, int64_t max_rows) {
  return PgGuarded(
      "pruning sign-in attempts", [&]() -> absl::StatusOr<int64_t> {
        PgResult r = c_.Run(
            "DELETE FROM sign_in_attempts WHERE id IN (SELECT id FROM "
            "sign_in_attempts WHERE expire_at < $1 ORDER BY expire_at LIMIT "
            "$2)",
            PgParams().Add(cutoff).Add(max_rows));
        return r.affected();
      });
}

absl::Status PgWriteTransaction::PutSignInTicket(
    const SignInTicketRecord& ticket) {
  return PgGuarded("writing a sign-in ticket", [&] {
    c_.Run(
        "INSERT INTO sign_in_tickets (digest, user_id, expire_at, created_at) "
        "VALUES ($1, $2, $3, $4)",
        PgParams()
            .Add(ticket.digest)
            .Add(ticket.user_id)
            .Add(ticket.expire_at)
            .Add(ticket.created_at));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<SignInTicketRecord>>
PgWriteTransaction::TakeSignInTicket(absl::string_view digest) {
  return PgGuarded(
      "taking a sign-in ticket",
      [&]() -> absl::StatusOr<std::optional<SignInTicketRecord>> {
        PgResult r = c_.Run(
            "DELETE FROM sign_in_tickets WHERE digest = $1 RETURNING "
            "user_id, expire_at, created_at",
            PgParams().Add(digest));
        if (r.rows() == 0) {
          return std::nullopt;
        }
        return SignInTicketRecord{std::string(digest), r.Text(0, 0),
                                  r.Int(0, 1), r.Int(0, 2)};
      });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneSignInTickets(
    Micros cutoff, int64_t max_rows) {
  return PgGuarded("pruning sign-in tickets", [&]() -> absl::StatusOr<int64_t> {
    PgResult r = c_.Run(
        "DELETE FROM sign_in_tickets WHERE digest IN (SELECT digest FROM "
        "sign_in_tickets WHERE expire_at < $1 ORDER BY expire_at LIMIT "
        "$2)",
        PgParams().Add(cutoff).Add(max_rows));
    return r.affected();
  });
}

absl::Status PgWriteTransaction::PutOAuthState(const OAuthStateRecord& state) {
  return PgGuarded("writing a social sign-in state", [&] {
    c_.Run(
        "INSERT INTO oauth_states (digest, provider, action, user_id, "
        "redirect_url, code_verifier, nonce, expire_at, created_at, "
        "legal_accepted) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        PgParams()
            .Add(state.digest)
            .Add(state.provider)
            .Add(state.action)
            .Add(state.user_id)
            .Add(state.redirect_url)
            .Add(state.code_verifier)
            .Add(state.nonce)
            .Add(state.expire_at)
            .Add(state.created_at)
            .Add(state.legal_accepted));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<OAuthStateRecord>>
PgWriteTransaction::TakeOAuthState(absl::string_view digest) {
  return PgGuarded(
      "taking a social sign-in state",
      [&]() -> absl::StatusOr<std::optional<OAuthStateRecord>> {
        PgResult r = c_.Run(
            "DELETE FROM oauth_states WHERE digest = $1 RETURNING provider, "
            "action, user_id, redirect_url, code_verifier, nonce, expire_at, "
            "created_at, legal_accepted",
            PgParams().Add(digest));
        if (r.rows() == 0) {
          return std::nullopt;
        }
        return OAuthStateRecord{std::string(digest), r.Text(0, 0), r.Text(0, 1),
                                r.Text(0, 2),        r.Text(0, 3), r.Text(0, 4),
                                r.Text(0, 5),        r.Int(0, 6),  r.Int(0, 7),
                                r.Int(0, 8) != 0};
      });
}

absl::StatusOr<int64_t> PgWriteTransaction::PruneOAuthStates(Micros cutoff,
                                                             int64_t max_rows) {
  return PgGuarded("pruning social sign-in states",
                   [&]() -> absl::StatusOr<int64_t> {
                     PgResult r = c_.Run(
                         "DELETE FROM oauth_states WHERE digest IN (SELECT "
                         "digest FROM oauth_states WHERE expire_at < $1 ORDER "
                         "BY expire_at LIMIT $2)",
                         PgParams().Add(cutoff).Add(max_rows));
                     return r.affected();
                   });
}

absl::Status PgWriteTransaction::PutOAuthToken(const OAuthTokenRecord& token) {
  return PgGuarded("writing a provider's tokens", [&] {
    c_.Run(
        "INSERT INTO oauth_tokens (external_account_id, user_id, sealed, "
        "key_id, expire_at, scopes, updated_at, refresh_lease_until) VALUES "
        "($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (external_account_id) "
        "DO UPDATE SET user_id = EXCLUDED.user_id, sealed = EXCLUDED.sealed, "
        "key_id = EXCLUDED.key_id, expire_at = EXCLUDED.expire_at, scopes = "
        "EXCLUDED.scopes, updated_at = EXCLUDED.updated_at, "
        "refresh_lease_until = EXCLUDED.refresh_lease_until",
        PgParams()
            .Add(token.external_account_id)
            .Add(token.user_id)
            .Add(token.sealed)
            .Add(token.key_id)
            .Add(token.expire_at)
            .Add(token.scopes)
            .Add(token.updated_at)
            .Add(token.refresh_lease_until));
    return absl::OkStatus();
  });
}

absl::StatusOr<std::optional<OAuthTokenRecord>>
PgWriteTransaction::GetOAuthToken(absl::string_view external_account_id) {
  return PgGuarded(
      "reading a provider's tokens",
      [&]() -> absl::StatusOr<std::optional<OAuthTokenRecord>> {
        PgResult r = c_.Run(
            "SELECT user_id, sealed, key_id, expire_at, scopes, updated_at, "
            "refresh_lease_until FROM oauth_tokens WHERE external_account_id "
            "= $1",
            PgParams().Add(external_account_id));
        if (r.rows() == 0) {
          return std::nullopt;
        }
        return OAuthTokenRecord{std::string(external_account_id),
                                r.Text(0, 0),
                                r.Text(0, 1),
                                r.Text(0, 2),
                                r.Int(0, 3),
                                r.Text(0, 4),
                                r.Int(0, 5),
                                r.Int(0, 6)};
      });
}

absl::Status PgWriteTransaction::DeleteOAuthToken(
    absl::string_view external_account_id) {
  return PgGuarded("deleting a provider's tokens", [&] {
    c_.Run("DELETE FROM oauth_tokens WHERE external_account_id = $1",
           PgParams().Add(external_account_id));
    return absl::OkStatus();
  });
}

absl::StatusOr<InvitationRecord> PgWriteTransaction::GetInvitation(
    absl::string_view invitation_id) {
  return PgGuarded("reading an invitation",
                   [&]() -> absl::StatusOr<InvitationRecord> {
                     auto found = LoadPgInvitations(c_, "id", invitation_id);
                     if (found.empty()) {
                       return absl::NotFoundError("invitation not found");
                     }
                     return found.front();
                   });
}

absl::StatusOr<std::optional<InvitationRecord>>
PgWriteTransaction::FindInvitationByTicket(absl::string_view ticket_digest) {
  return PgGuarded("reading an invitation",
                   [&]() -> absl::StatusOr<std::optional<InvitationRecord>> {
                     auto found =
                         LoadPgInvitations(c_, "ticket_digest", ticket_digest);
                     if (found.empty()) {
                       return std::nullopt;
                     }
                     return found.front();
                   });
}

absl::StatusOr<std::vector<InvitationRecord>>
PgWriteTransaction::FindPendingInvitations(absl::string_view email_address) {
  return PgGuarded("reading invitations",
                   [&]() -> absl::StatusOr<std::vector<InvitationRecord>> {
                     std::vector<InvitationRecord> pending;
                     for (auto& invitation : LoadPgInvitations(
                              c_, "email_address", email_address)) {
                       if (invitation.status == InvitationStatus::kPending) {
                         pending.push_back(std::move(invitation));
                       }
                     }
                     return pending;
                   });
}

absl::Status PgWriteTransaction::PutInvitation(
    const InvitationRecord& invitation) {
  return PgGuarded("writing an invitation", [&] {
    static const std::string* const kSql =
        new std::string(UpsertInvitationSql(SqlDialect::kPostgres));
    PgParams params;
    BindAll(params, InvitationValues(invitation));
    c_.Run(*kSql, params);
    return absl::OkStatus();
  });
}

}  // namespace roster::storage
