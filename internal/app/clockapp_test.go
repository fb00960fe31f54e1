package app

import (
	"context"
	"testing"
	"time"

	"strongroom"
	"strongroom/internal/config"
	"strongroom/internal/identity"
)

// clockApp is a started server whose clock the test moves, with its first
// operator, for tests that call the services directly.
type clockApp struct {
	*testApp
	t     *testing.T
	clock *testClock
	root  *identity.User
}

// startClockApp starts cfg with the clock at start.
func startClockApp(t *testing.T, cfg *config.Config, start time.Time) *clockApp {
	t.Helper()
	clock := &testClock{t: start}
	ta, _, root := startWithRoot(t, cfg, Options{Now: clock.Now}, nil)
	return &clockApp{testApp: ta, t: t, clock: clock, root: root}
}

// as is the context of u as the caller.
func (a *clockApp) as(u *identity.User) context.Context {
	return strongroom.WithPrincipal(context.Background(), strongroom.Principal{User: u.ID, Tenant: u.Tenant, Name: u.Name, Role: string(u.Role), Operator: u.Operator})
}

// user creates a user of the operator's tenant with an e-mail address.
func (a *clockApp) user(name string, role identity.Role) *identity.User {
	a.t.Helper()
	u, err := a.identity.CreateUser(a.as(a.root), a.root.Tenant, identity.UserSpec{Name: name, Role: role, Email: name + "@example.com"})
	if err != nil {
		a.t.Fatal(err)
	}
	return u
}
