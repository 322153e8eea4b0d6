// Roster from a Go service: BackendUsers with the secret key, error details, and session
// tokens checked offline with go-jose against the keys from GetJwks.
//
// Stubs with Debian 12's packages (protoc-gen-go, protoc-gen-go-grpc, golang-google-grpc-dev,
// golang-google-genproto-dev, golang-gopkg-square-go-jose.v2-dev), in GOPATH mode:
//
//	M=Mgoogle/rpc/status.proto=google.golang.org/genproto/googleapis/rpc/status
//	protoc -I proto --go_out=$GOPATH/src --go_opt=$M --go-grpc_out=$GOPATH/src \
//	  --go-grpc_opt=$M proto/roster/v1/*.proto
//	GO111MODULE=off GOPATH=$GOPATH:/usr/share/gocode go build
//
// Run: ROSTER_ADDR=localhost:50051 ROSTER_SECRET_KEY=sk_... recipe EMAIL
// It creates a user, shows two decoded errors, opens a session and verifies its token, then
// verifies each token read from stdin, one per line ("valid SUB SID" or "refused WHY").
package main

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	jose "gopkg.in/square/go-jose.v2"
	"gopkg.in/square/go-jose.v2/jwt"

	rosterv1 "roster/gen/roster/v1"
)

// errorDetails is the code, the ErrorInfo reason and the BadRequest fields of a failed call.
func errorDetails(err error) []interface{} {
	st := status.Convert(err)
	out := []interface{}{code.Code_name[int32(st.Code())], ""}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			out[1] = d.Reason
		case *errdetails.BadRequest:
			for _, v := range d.FieldViolations {
				out = append(out, v.Field)
			}
		}
	}
	return out
}

// SessionClaims are a valid session token's claims.
type SessionClaims struct {
	jwt.Claims
	SessionID string `json:"sid"`
}

// SessionVerifier verifies session tokens offline. The keys are fetched once, cached, and
// fetched again when a token names an unknown kid (a key rotation), at most once per Refetch.
type SessionVerifier struct {
	Client  rosterv1.FrontendUsersClient
	Issuer  string
	Leeway  time.Duration
	Refetch time.Duration

	mu        sync.Mutex
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time
}

func (v *SessionVerifier) fetch() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	jwks, err := v.Client.GetJwks(ctx, &rosterv1.GetJwksRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return err
	}
	v.keys = map[string]ed25519.PublicKey{}
	for _, k := range jwks.Keys {
		var key jose.JSONWebKey
		raw := fmt.Sprintf(`{"kty":%q,"crv":%q,"x":%q}`, k.Kty, k.Crv, k.X)
		if err := key.UnmarshalJSON([]byte(raw)); err == nil {
			if public, ok := key.Key.(ed25519.PublicKey); ok {
				v.keys[k.Kid] = public
			}
		}
	}
	v.fetchedAt = time.Now()
	fmt.Println("jwks fetched", len(v.keys))
	return nil
}

func (v *SessionVerifier) key(kid string) (ed25519.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, known := v.keys[kid]; v.keys == nil || (!known && time.Since(v.fetchedAt) >= v.Refetch) {
		if err := v.fetch(); err != nil {
			return nil, err
		}
	}
	if key, ok := v.keys[kid]; ok {
		return key, nil
	}
	return nil, errors.New("UnknownKey")
}

// Verify returns the claims of a valid token, or why it is not.
func (v *SessionVerifier) Verify(token string) (*SessionClaims, error) {
	parsed, err := jwt.ParseSigned(token)
	if err != nil {
		return nil, err
	}
	if len(parsed.Headers) != 1 || parsed.Headers[0].Algorithm != string(jose.EdDSA) {
		return nil, errors.New("AlgorithmNotEdDSA")
	}
	key, err := v.key(parsed.Headers[0].KeyID)
	if err != nil {
		return nil, err
	}
	var claims SessionClaims
	if err := parsed.Claims(key, &claims); err != nil {
		return nil, err
	}
	if claims.Expiry == nil || claims.NotBefore == nil || claims.IssuedAt == nil ||
		claims.Subject == "" || claims.SessionID == "" {
		return nil, errors.New("ClaimsMissing")
	}
	expected := jwt.Expected{Issuer: v.Issuer, Time: time.Now()}
	if err := claims.ValidateWithLeeway(expected, v.Leeway); err != nil {
		return nil, err
	}
	return &claims, nil
}

func main() {
	conn, err := grpc.Dial(os.Getenv("ROSTER_ADDR"), grpc.WithInsecure())
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	backend := rosterv1.NewBackendUsersClient(conn)
	ctx := metadata.AppendToOutgoingContext(context.Background(),
		"authorization", "Bearer "+os.Getenv("ROSTER_SECRET_KEY"))

	user, err := backend.CreateUser(ctx, &rosterv1.CreateUserRequest{EmailAddresses: []string{os.Args[1]}})
	if err != nil {
		panic(err)
	}
	fmt.Println("created", user.Id)
	for _, email := range []string{os.Args[1], "not-an-email"} {
		if _, err := backend.CreateUser(ctx, &rosterv1.CreateUserRequest{EmailAddresses: []string{email}}); err != nil {
			fmt.Println(append([]interface{}{"error"}, errorDetails(err)...)...)
		}
	}
	created, err := backend.CreateSession(ctx, &rosterv1.CreateSessionRequest{UserId: user.Id})
	if err != nil {
		panic(err)
	}

	verifier := &SessionVerifier{Client: rosterv1.NewFrontendUsersClient(conn), Issuer: "roster",
		Leeway: 5 * time.Second, Refetch: 30 * time.Second}
	if issuer := os.Getenv("ROSTER_ISSUER"); issuer != "" {
		verifier.Issuer = issuer
	}
	if seconds, err := strconv.ParseFloat(os.Getenv("ROSTER_JWKS_REFETCH_SECONDS"), 64); err == nil {
		verifier.Refetch = time.Duration(seconds * float64(time.Second))
	}
	check := func(token string) {
		if claims, err := verifier.Verify(token); err != nil {
			fmt.Println("refused", err)
		} else {
			fmt.Println("valid", claims.Subject, claims.SessionID)
		}
	}
	check(created.SessionToken)
	lines := bufio.NewScanner(os.Stdin)
	for lines.Scan() {
		check(lines.Text())
	}
}
