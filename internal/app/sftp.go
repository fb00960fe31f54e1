package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"golang.org/x/crypto/ssh"

	"strongroom"
	"strongroom/internal/identity"
	"strongroom/internal/sftpd"
)

var _ sftpd.Authenticator = (*identity.Service)(nil)

// sftpListener is the SSH listener serving SFTP, when sftp.addr is set.
type sftpListener struct {
	srv *sftpd.Server
	ln  net.Listener
}

// listenSFTP builds the SFTP server with the host key made by init and the
// profile's algorithms, and binds its listener.
func (a *App) listenSFTP() error {
	const op = "app.listenSFTP"
	c := a.cfg.SFTP
	if c.Addr == "" {
		return nil
	}
	path := layout{a.cfg.Data}.sshHostKey()
	pemBytes, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return strongroom.E(op, strongroom.NotFound, fmt.Sprintf("the SSH host key %s is missing; restore it from a backup, or run strongroom init --data %s to make the missing files (clients will see a new host key)", path, a.cfg.Data))
	}
	if err != nil {
		return strongroom.E(op, strongroom.Internal, err)
	}
	key, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		return strongroom.E(op, strongroom.Invalid, fmt.Sprintf("the SSH host key %s does not parse", path), err)
	}
	srv, err := sftpd.New(a.identity, a.objects, key, a.policy.SSH, a.log.With("component", "sftp"))
	if err != nil {
		return strongroom.E(op, strongroom.Invalid, "the SFTP server cannot offer the profile's SSH algorithms", err)
	}
	srv.Notice = a.identity.Notice()
	srv.IdleTimeout = c.IdleTimeout.Std()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return strongroom.E(op, strongroom.Unavailable, fmt.Sprintf("cannot listen on %s for sftp", c.Addr), err)
	}
	a.sftp = &sftpListener{srv: srv, ln: ln}
	// Suspension, offboarding and revocation close the user's SFTP
	// connections at once, not at the next poll (ACC-6).
	a.identity.OnSessionsEnded = srv.CheckUser
	return nil
}

// runSFTP serves SFTP in the background, reporting a failed listener on
// errc.
func (a *App) runSFTP(errc chan<- error) {
	if a.sftp == nil {
		return
	}
	a.log.Info("listening", "listener", "sftp", "addr", a.sftp.ln.Addr().String(), "ssh", true)
	go func() {
		if err := a.sftp.srv.Serve(a.sftp.ln); err != nil {
			errc <- fmt.Errorf("sftp listener: %w", err)
		}
	}()
}

// shutdownSFTP stops accepting connections and lets open ones finish
// until ctx is done.
func (a *App) shutdownSFTP(ctx context.Context) {
	if a.sftp == nil {
		return
	}
	if err := a.sftp.srv.Shutdown(ctx); err != nil {
		a.log.Warn("SFTP connections cut off at shutdown timeout", "err", err)
	}
}

// closeSFTP closes the listener and every connection.
func (a *App) closeSFTP() {
	if a.sftp != nil {
		a.sftp.ln.Close()
		a.sftp.srv.Close()
	}
}

// SFTPAddr returns the bound address of the SFTP listener, or "" when
// SFTP is off. Tests listen on port 0 and ask here.
func (a *App) SFTPAddr() string {
	if a.sftp == nil {
		return ""
	}
	return a.sftp.ln.Addr().String()
}
