#include "tests/integration/soak_load.h"

#include "tests/testing/frontend_response_scanner.h"

namespace roster::soak {

using namespace roster::v1;  // NOLINT: the API under load.

namespace {

constexpr char kPassword[] = "soak-password-Correct-Horse-1";
constexpr char kNewPassword[] = "soak-password-Battery-Staple-2";
const char kPng[] = {'\x89', 'P',    'N',    'G',    '\r',   '\n',  '\x1a',
                     '\n',   '\x00', '\x00', '\x00', '\x0d', 'I',   'H',
                     'D',    'R',    '\x00', '\x00', '\x00', '\x01'};

std::unique_ptr<grpc::ClientContext> Context(const std::string& bearer) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->AddMetadata("authorization", "Bearer " + bearer);
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(30));
  return context;
}

}  // namespace

void Worker::Run(const std::atomic<bool>& stop) {
  for (int64_t i = 0; !stop; ++i) {
    BackendCycle(i);
    if (i % 10 == 0) {
      ImportCycle(i);
    }
    if (i % 10 == 5) {
      FrontendCycle(i);
    }
  }
}

void Worker::BackendCycle(int64_t i) {
  CreateUserRequest create;
  create.add_email_addresses(Email(i));
  create.add_phone_numbers(Phone());
  create.set_first_name("Soak");
  (*create.mutable_public_metadata()->mutable_fields())["plan"]
      .set_string_value(i % 2 ? "pro" : "free");
  (*create.mutable_private_metadata()->mutable_fields())["secret"]
      .set_string_value(testing::kPrivateSentinel);
  User user;
  Check(backend_->CreateUser(Context(kKey).get(), create, &user), "CreateUser");
  if (user.id().empty()) {
    return;
  }
  const std::string& id = user.id();
  GetUserRequest get;
  get.set_user_id(id);
  Check(backend_->GetUser(Context(kKey).get(), get, &user), "GetUser");
  UpdateUserRequest update;
  update.set_user_id(id);
  update.set_last_name(absl::StrCat("Cycle", i));
  Check(backend_->UpdateUser(Context(kKey).get(), update, &user), "UpdateUser");
  UpdateUserMetadataRequest merge;
  merge.set_user_id(id);
  (*merge.mutable_public_metadata()->mutable_fields())["seen"].set_number_value(
      static_cast<double>(i));
  Check(backend_->UpdateUserMetadata(Context(kKey).get(), merge, &user),
        "UpdateUserMetadata");
  ReplaceUserMetadataRequest replace;
  replace.set_user_id(id);
  (*replace.mutable_unsafe_metadata()->mutable_fields())["theme"]
      .set_string_value("dark");
  Check(backend_->ReplaceUserMetadata(Context(kKey).get(), replace, &user),
        "ReplaceUserMetadata");
  ListUsersRequest list;
  list.add_email_addresses(user.email_addresses(0).email_address());
  ListUsersResponse listed;
  Check(backend_->ListUsers(Context(kKey).get(), list, &listed), "ListUsers");
  CountUsersRequest count;
  count.set_name_query("soak");
  CountUsersResponse counted;
  Check(backend_->CountUsers(Context(kKey).get(), count, &counted),
        "CountUsers");

  CreateEmailAddressRequest add_email;
  add_email.set_user_id(id);
  add_email.set_email_address(Email(i));
  EmailAddress email;
  Check(backend_->CreateEmailAddress(Context(kKey).get(), add_email, &email),
        "CreateEmailAddress");
  GetEmailAddressRequest get_email;
  get_email.set_email_address_id(email.id());
  Check(backend_->GetEmailAddress(Context(kKey).get(), get_email, &email),
        "GetEmailAddress");
  UpdateEmailAddressRequest verify_email;
  verify_email.set_email_address_id(email.id());
  verify_email.set_verified(true);
  Check(backend_->UpdateEmailAddress(Context(kKey).get(), verify_email, &email),
        "UpdateEmailAddress");
  DeleteEmailAddressRequest delete_email;
  delete_email.set_email_address_id(email.id());
  DeletedObject deleted;
  Check(
      backend_->DeleteEmailAddress(Context(kKey).get(), delete_email, &deleted),
      "DeleteEmailAddress");

  CreatePhoneNumberRequest add_phone;
  add_phone.set_user_id(id);
  add_phone.set_phone_number(Phone());
  PhoneNumber phone;
  Check(backend_->CreatePhoneNumber(Context(kKey).get(), add_phone, &phone),
        "CreatePhoneNumber");
  GetPhoneNumberRequest get_phone;
  get_phone.set_phone_number_id(phone.id());
  Check(backend_->GetPhoneNumber(Context(kKey).get(), get_phone, &phone),
        "GetPhoneNumber");
  UpdatePhoneNumberRequest verify_phone;
  verify_phone.set_phone_number_id(phone.id());
  verify_phone.set_verified(true);
  Check(backend_->UpdatePhoneNumber(Context(kKey).get(), verify_phone, &phone),
        "UpdatePhoneNumber");
  DeletePhoneNumberRequest delete_phone;
  delete_phone.set_phone_number_id(phone.id());
  Check(
      backend_->DeletePhoneNumber(Context(kKey).get(), delete_phone, &deleted),
      "DeletePhoneNumber");

  CreateExternalAccountRequest link;
  link.set_user_id(id);
  link.set_provider("oauth_github");
  link.set_provider_user_id(Unique("gh", i));
  ExternalAccount account;
  Check(backend_->CreateExternalAccount(Context(kKey).get(), link, &account),
        "CreateExternalAccount");
  DeleteExternalAccountRequest unlink;
  unlink.set_external_account_id(account.id());
  Check(backend_->DeleteExternalAccount(Context(kKey).get(), unlink, &deleted),
        "DeleteExternalAccount");

  SetProfileImageRequest image;
  image.set_user_id(id);
  image.set_image(std::string(kPng, sizeof(kPng)) + std::string(512, 'x'));
  Check(backend_->SetProfileImage(Context(kKey).get(), image, &user),
        "SetProfileImage");
  DeleteProfileImageRequest no_image;
  no_image.set_user_id(id);
  Check(backend_->DeleteProfileImage(Context(kKey).get(), no_image, &user),
        "DeleteProfileImage");

  BanUserRequest ban;
  ban.set_user_id(id);
  Check(backend_->BanUser(Context(kKey).get(), ban, &user), "BanUser");
  UnbanUserRequest unban;
  unban.set_user_id(id);
  Check(backend_->UnbanUser(Context(kKey).get(), unban, &user), "UnbanUser");
  LockUserRequest lock;
  lock.set_user_id(id);
  Check(backend_->LockUser(Context(kKey).get(), lock, &user), "LockUser");
  UnlockUserRequest unlock;
  unlock.set_user_id(id);
  Check(backend_->UnlockUser(Context(kKey).get(), unlock, &user), "UnlockUser");

  ListEventsRequest events;
  events.set_user_id(id);
  events.set_limit(20);
  ListEventsResponse listed_events;
  Check(backend_->ListEvents(Context(kKey).get(), events, &listed_events),
        "ListEvents");
  ListSessionsRequest sessions;
  sessions.set_user_id(id);
  ListSessionsResponse listed_sessions;
  Check(backend_->ListSessions(Context(kKey).get(), sessions, &listed_sessions),
        "ListSessions");
  DeleteUserRequest remove;
  remove.set_user_id(id);
  Check(backend_->DeleteUser(Context(kKey).get(), remove, &deleted),
        "DeleteUser");
}

void Worker::ImportCycle(int64_t i) {
  ImportUsersRequest import;
  for (int n = 0; n < 3; ++n) {
    auto* user = import.add_users();
    user->add_email_addresses(Email(i));
    user->set_first_name("Imported");
  }
  ImportUsersResponse imported;
  Check(backend_->ImportUsers(Context(kKey).get(), import, &imported),
        "ImportUsers");
  for (const auto& result : imported.results()) {
    if (result.status().code() != 0) {
      Check(grpc::Status(grpc::StatusCode::INTERNAL, "a row failed"),
            "ImportUsers row");
      continue;
    }
    DeleteUserRequest remove;
    remove.set_user_id(result.user().id());
    DeletedObject deleted;
    Check(backend_->DeleteUser(Context(kKey).get(), remove, &deleted),
          "DeleteUser (imported)");
  }
}

void Worker::FrontendCycle(int64_t i) {
  const std::string address = Email(i);
  CreateUserRequest create;
  create.add_email_addresses(address);
  create.set_password(kPassword);
  User user;
  Check(backend_->CreateUser(Context(kKey).get(), create, &user),
        "CreateUser (password)");
  VerifyPasswordRequest verify;
  verify.set_user_id(user.id());
  verify.set_password(kPassword);
  VerifyPasswordResponse verified;
  Check(backend_->VerifyPassword(Context(kKey).get(), verify, &verified),
        "VerifyPassword");
  SignInRequest sign_in;
  sign_in.set_identifier(address);
  sign_in.set_password(kPassword);
  SignInResponse signed_in;
  grpc::ClientContext sign_in_context;
  Check(frontend_->SignIn(&sign_in_context, sign_in, &signed_in), "SignIn");
  const std::string token = signed_in.session_token();
  if (token.empty()) {
    return;
  }

  FrontendUser me;
  Check(frontend_->GetMe(Context(token).get(), GetMeRequest(), &me), "GetMe");
  UpdateMeRequest update;
  update.set_first_name("Self");
  Check(frontend_->UpdateMe(Context(token).get(), update, &me), "UpdateMe");
  UpdateMyMetadataRequest metadata;
  (*metadata.mutable_unsafe_metadata()->mutable_fields())["onboarded"]
      .set_bool_value(true);
  Check(frontend_->UpdateMyMetadata(Context(token).get(), metadata, &me),
        "UpdateMyMetadata");

  CreateMyEmailAddressRequest add_email;
  add_email.set_email_address(Email(i));
  EmailAddress email;
  Check(
      frontend_->CreateMyEmailAddress(Context(token).get(), add_email, &email),
      "CreateMyEmailAddress");
  PrepareEmailAddressVerificationRequest prepare_email;
  prepare_email.set_email_address_id(email.id());
  prepare_email.set_strategy("email_code");
  Check(frontend_->PrepareEmailAddressVerification(Context(token).get(),
                                                   prepare_email, &email),
        "PrepareEmailAddressVerification");
  // A wrong code is the expected answer here (the code goes out by event).
  AttemptEmailAddressVerificationRequest attempt_email;
  attempt_email.set_email_address_id(email.id());
  attempt_email.set_code("000000");
  Check(frontend_->AttemptEmailAddressVerification(Context(token).get(),
                                                   attempt_email, &email),
        "AttemptEmailAddressVerification", grpc::StatusCode::INVALID_ARGUMENT);
  DeleteMyEmailAddressRequest delete_email;
  delete_email.set_email_address_id(email.id());
  DeletedObject deleted;
  Check(frontend_->DeleteMyEmailAddress(Context(token).get(), delete_email,
                                        &deleted),
        "DeleteMyEmailAddress");

  CreateMyPhoneNumberRequest add_phone;
  add_phone.set_phone_number(Phone());
  PhoneNumber phone;
  Check(frontend_->CreateMyPhoneNumber(Context(token).get(), add_phone, &phone),
        "CreateMyPhoneNumber");
  PreparePhoneNumberVerificationRequest prepare_phone;
  prepare_phone.set_phone_number_id(phone.id());
  prepare_phone.set_strategy("phone_code");
  Check(frontend_->PreparePhoneNumberVerification(Context(token).get(),
                                                  prepare_phone, &phone),
        "PreparePhoneNumberVerification");
  AttemptPhoneNumberVerificationRequest attempt_phone;
  attempt_phone.set_phone_number_id(phone.id());
  attempt_phone.set_code("000000");
  Check(frontend_->AttemptPhoneNumberVerification(Context(token).get(),
                                                  attempt_phone, &phone),
        "AttemptPhoneNumberVerification", grpc::StatusCode::INVALID_ARGUMENT);
  DeleteMyPhoneNumberRequest delete_phone;
  delete_phone.set_phone_number_id(phone.id());
  Check(frontend_->DeleteMyPhoneNumber(Context(token).get(), delete_phone,
                                       &deleted),
        "DeleteMyPhoneNumber");

  CreateExternalAccountRequest link;
  link.set_user_id(user.id());
  link.set_provider("oauth_google");
  link.set_provider_user_id(Unique("google", i));
  ExternalAccount account;
  Check(backend_->CreateExternalAccount(Context(kKey).get(), link, &account),
        "CreateExternalAccount");
  DeleteMyExternalAccountRequest unlink;
  unlink.set_external_account_id(account.id());
  Check(frontend_->DeleteMyExternalAccount(Context(token).get(), unlink,
                                           &deleted),
        "DeleteMyExternalAccount");
  SetMyProfileImageRequest image;
  image.set_image(std::string(kPng, sizeof(kPng)) + std::string(256, 'y'));
  Check(frontend_->SetMyProfileImage(Context(token).get(), image, &me),
        "SetMyProfileImage");
  Check(frontend_->DeleteMyProfileImage(Context(token).get(),
                                        DeleteMyProfileImageRequest(), &me),
        "DeleteMyProfileImage");

  RefreshSessionTokenRequest refresh;
  refresh.set_session_id(signed_in.session().id());
  refresh.set_session_secret(signed_in.session_secret());
  RefreshSessionTokenResponse refreshed;
  grpc::ClientContext refresh_context;
  Check(frontend_->RefreshSessionToken(&refresh_context, refresh, &refreshed),
        "RefreshSessionToken");
  Jwks jwks;
  grpc::ClientContext jwks_context;
  Check(frontend_->GetJwks(&jwks_context, GetJwksRequest(), &jwks), "GetJwks");
  ListMySessionsResponse my_sessions;
  Check(frontend_->ListMySessions(Context(token).get(), ListMySessionsRequest(),
                                  &my_sessions),
        "ListMySessions");
  CreateSessionRequest backend_session;
  backend_session.set_user_id(user.id());
  CreateSessionResponse other;
  Check(backend_->CreateSession(Context(kKey).get(), backend_session, &other),
        "CreateSession");
  RevokeMySessionRequest revoke_mine;
  revoke_mine.set_session_id(other.session().id());
  Session session;
  Check(frontend_->RevokeMySession(Context(token).get(), revoke_mine, &session),
        "RevokeMySession");
  Check(backend_->CreateSession(Context(kKey).get(), backend_session, &other),
        "CreateSession");
  RevokeSessionRequest revoke;
  revoke.set_session_id(other.session().id());
  Check(backend_->RevokeSession(Context(kKey).get(), revoke, &session),
        "RevokeSession");

  ChangeMyPasswordRequest change;
  change.set_current_password(kPassword);
  change.set_new_password(kNewPassword);
  Check(frontend_->ChangeMyPassword(Context(token).get(), change, &me),
        "ChangeMyPassword");
  RemoveMyPasswordRequest remove_password;
  remove_password.set_current_password(kNewPassword);
  Check(frontend_->RemoveMyPassword(Context(token).get(), remove_password, &me),
        "RemoveMyPassword");
  Check(frontend_->SignOut(Context(token).get(), SignOutRequest(), &session),
        "SignOut");
  // A last session from the backend, to delete the account with.
  Check(backend_->CreateSession(Context(kKey).get(), backend_session, &other),
        "CreateSession");
  Check(frontend_->DeleteMe(Context(other.session_token()).get(),
                            DeleteMeRequest(), &deleted),
        "DeleteMe");
}

}  // namespace roster::soak
