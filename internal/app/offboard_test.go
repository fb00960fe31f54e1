package app

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/identity"
	"strongroom/internal/objects"
)

// TestOffboardEndsEverything (ACC-6): offboarding a user with a live
// OpenSSH sftp session, an access key and a presigned URL closes the
// session at once, although the server's own check of SFTP sessions is
// an hour away, and refuses the access key and the presigned URL on their
// next request; no sign-in of the user works afterwards.
func TestOffboardEndsEverything(t *testing.T) {
	ta := sftpApp(t, func(a *App) { a.sftp.srv.CheckEvery = time.Hour })
	alice := newSFTPUser(t, ta, "acme", "alice")
	ctx := context.Background()
	if _, err := ta.objects.CreateProject(alice.as(), "reports"); err != nil {
		t.Fatal(err)
	}
	data := []byte("quarterly figures")
	if _, err := ta.objects.PutObject(alice.as(), objects.PutInput{Project: "reports", Name: "q3.txt", Body: bytes.NewReader(data), Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	k, secret, err := ta.identity.CreateAccessKey(setupCtx(), alice.ID, identity.AccessKeySpec{})
	if err != nil {
		t.Fatal(err)
	}
	mc, err := minio.New(ta.Addr("https"), &minio.Options{
		Creds: credentials.NewStaticV4(string(k.ID), secret, ""), Secure: true, Transport: ta.client.Transport, Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	presigned, err := mc.PresignedGetObject(ctx, "reports", "q3.txt", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	getPresigned := func() int {
		resp, err := ta.client.Get(presigned.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := getPresigned(); code != http.StatusOK {
		t.Fatalf("presigned GET before offboarding = %d", code)
	}
	if _, err := mc.StatObject(ctx, "reports", "q3.txt", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("access key before offboarding: %v", err)
	}

	o := newOpenSSH(t, ta)
	guard, cancel := context.WithTimeout(ctx, time.Minute) // a guard against a hang: the poll is an hour away
	defer cancel()
	closed := liveSFTP(t, guard, o, alice, "ls /", "reports")
	off, err := ta.identity.OffboardUser(setupCtx(), alice.ID, "left the company")
	if err != nil {
		t.Fatal(err)
	}
	offboarded := time.Now()
	if off.Sessions != 1 || off.AccessKeys != 1 || off.SSHKeys != 1 || off.User.Status != identity.StatusOffboarded {
		t.Errorf("offboarding removed %+v; want one session, one access key, one SSH key", off)
	}
	err = closed()
	if guard.Err() != nil {
		t.Fatal("the SFTP connection of an offboarded user stayed open until the next poll")
	}
	t.Logf("SFTP connection closed %v after offboarding", time.Since(offboarded).Round(time.Millisecond))
	if err == nil {
		t.Error("sftp exited cleanly; want the connection cut")
	}
	if e := findEvent(t, ta, alice.Tenant, "user.offboard", string(alice.ID)); !e.Privileged || e.Details["reason"] != "left the company" {
		t.Errorf("user.offboard event %+v", e)
	}

	if code := getPresigned(); code != http.StatusForbidden {
		t.Errorf("presigned GET after offboarding = %d, want 403", code)
	}
	if _, err := mc.StatObject(ctx, "reports", "q3.txt", minio.StatObjectOptions{}); err == nil {
		t.Error("the access key still works after offboarding")
	}
	if out, err := o.batch(alice, "ls /"); err == nil {
		t.Errorf("SFTP sign-in with the key after offboarding succeeded:\n%s", out)
	}
	if _, err := ta.identity.SignIn(ctx, identity.SignInRequest{Name: alice.Name, Password: alice.password, NoticeAccepted: true}); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("password sign-in after offboarding: %v, want Unauthenticated", err)
	}
}

// TestOffboardOverAPI: a tenant administrator offboards a member through
// the API; the member's session ends; a member may not offboard anyone,
// and no one offboards themselves.
func TestOffboardOverAPI(t *testing.T) {
	ta, root := dataApp(t)
	carol := tenantAdmin(t, ta, root)
	dave := userOf(t, ta, root, "acme", "dave", "member")
	erin := userOf(t, ta, root, "acme", "erin", "member")
	ctx := context.Background()

	var v api.OffboardView
	if err := dave.Do(ctx, "POST", "/api/v1/users/erin/offboard", nil, api.OffboardRequest{Reason: "left"}, &v); !strongroom.Is(err, strongroom.Permission) {
		t.Errorf("a member offboarding another: %v, want Permission", err)
	}
	if err := carol.Do(ctx, "POST", "/api/v1/users/carol/offboard", nil, api.OffboardRequest{Reason: "left"}, &v); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("offboarding oneself: %v, want Invalid", err)
	}
	if err := carol.Do(ctx, "POST", "/api/v1/users/erin/offboard", nil, api.OffboardRequest{}, &v); !strongroom.Is(err, strongroom.Invalid) {
		t.Errorf("offboarding without a reason: %v, want Invalid", err)
	}
	mustDo(t, carol.Client, "POST", "/api/v1/users/erin/offboard", nil, api.OffboardRequest{Reason: "contract ended"}, &v)
	if v.User.Name != "erin" || v.User.Status != "offboarded" || v.SessionsEnded < 1 || v.AlreadyDone {
		t.Errorf("offboard answered %+v", v)
	}
	if err := erin.Do(ctx, "GET", "/api/v1/me", nil, nil, nil); !strongroom.Is(err, strongroom.Unauthenticated) {
		t.Errorf("the offboarded user's session: %v, want Unauthenticated", err)
	}
	if _, err := ta.signIn(t, "erin", "meadow-compass-5512", ""); err == nil {
		t.Error("the offboarded user signed in again")
	}
	mustDo(t, carol.Client, "POST", "/api/v1/users/erin/offboard", nil, api.OffboardRequest{Reason: "again"}, &v)
	if !v.AlreadyDone {
		t.Errorf("offboarding twice answered %+v; want already offboarded", v)
	}
}
