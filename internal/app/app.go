// Package app is Strongroom's composition root: the only package that reads
// a Config, opens the stores, builds the domain services and binds the
// listeners. Everything else receives what it needs through its
// constructor.
package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/mod/sumdb/note"

	"strongroom"
	"strongroom/internal/api"
	"strongroom/internal/audit"
	blobfs "strongroom/internal/blob/fs"
	"strongroom/internal/config"
	"strongroom/internal/console"
	"strongroom/internal/identity"
	"strongroom/internal/keys"
	"strongroom/internal/ldap"
	"strongroom/internal/objects"
	"strongroom/internal/policy"
	"strongroom/internal/s3api"
	"strongroom/internal/store/sqlite"
)

// Options tunes New beyond the configuration.
type Options struct {
	// Out receives the init report (with the bootstrap token) when New
	// initialises a data directory that did not exist.
	Out io.Writer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// App is a running Strongroom server.
type App struct {
	cfg    *config.Config
	log    *slog.Logger
	policy *policy.Profile
	now    func() time.Time

	db       *sqlite.DB
	master   *keys.MasterKey
	identity *identity.Service
	metrics  *prometheus.Registry

	objects  *objects.Service
	blobs    *blobfs.Store
	rescanAt time.Time // when the maintenance sweep last rescanned objects

	trail       *audit.Trail
	auditSigner note.Signer
	auditReader *audit.Reader
	streamSinks []audit.Sink

	notify notifiers // lockout alerts, expiry reminders, webhooks

	guard    *diskGuard    // read-only when the disk is nearly full
	events   sqlite.Events // the trail's events, for alerts and reviews
	reviewMu sync.Mutex    // one daily review at a time
	reviewed audit.Day     // the last day whose reviews are all done; under reviewMu

	servers   []*server
	sftp      *sftpListener // nil when sftp.addr is empty
	closeOnce sync.Once
	closeErr  error
}

// server is one listener with its HTTP server.
type server struct {
	name string
	ln   net.Listener
	srv  *http.Server
	tls  bool
}

// New validates cfg, loads the policy profile, initialises the data
// directory if it does not exist, opens the database and keys, and binds
// every listener. Nothing is served until Run. On error nothing is left
// open.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) (_ *App, err error) {
	a, err := open(ctx, cfg, logger, opts, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	l := layout{cfg.Data}
	certFile, keyFile := cfg.TLS.CertFile, cfg.TLS.KeyFile
	if certFile == "" {
		certFile, keyFile = l.tlsCert(), l.tlsKey()
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, strongroom.E("app.New", strongroom.Invalid, fmt.Sprintf("load TLS certificate %s", certFile), err)
	}
	if err := a.listen(cert); err != nil {
		return nil, err
	}
	if err := a.listenSFTP(); err != nil {
		return nil, err
	}
	if err := a.openStream(); err != nil {
		return nil, err
	}
	a.identity.RelyingParty = a.relyingParty()
	return a, nil
}

// open does the part of New that every command working on a data
// directory needs: configuration and policy checked, keys loaded, database
// opened, services built. With initialise, a missing data directory is
// created first.
func open(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options, initialise bool) (_ *App, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, strongroom.E("app.New", strongroom.Invalid, "invalid configuration", err)
	}
	prof := policy.Baseline()
	if cfg.Policy != "" {
		if prof, err = policy.Load(cfg.Policy); err != nil {
			return nil, strongroom.E("app.New", strongroom.Invalid, "refusing to start on an invalid policy profile", err)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	a := &App{cfg: cfg, log: logger, policy: prof, now: opts.Now, metrics: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if !Initialized(cfg.Data) {
		if !initialise {
			return nil, strongroom.E("app.open", strongroom.NotFound, fmt.Sprintf("%s is not a Strongroom data directory; run strongroom init --data %s", cfg.Data, cfg.Data))
		}
		logger.Info("initialising new data directory", "dir", cfg.Data)
		if _, err := Init(ctx, cfg, logger, InitOptions{Out: opts.Out, Now: opts.Now}); err != nil {
			return nil, err
		}
	}
	if err := checkDataDir(cfg.Data); err != nil {
		return nil, err
	}
	l := layout{cfg.Data}
	if a.master, err = keys.LoadMasterKeyFile(l.masterKey()); err != nil {
		return nil, err
	}
	if a.db, err = sqlite.Open(ctx, l.database(), logger); err != nil {
		return nil, err
	}
	if err := a.openAudit(l); err != nil {
		return nil, err
	}
	a.identity = identity.New(a.db.Identity(), logger)
	a.identity.Now = opts.Now
	a.identity.Policy = prof
	if a.identity.Secrets, err = secretBoxes(a.master); err != nil {
		return nil, err
	}
	a.identity.Directory = ldap.New(logger)
	if err := a.openNotify(); err != nil {
		return nil, err
	}
	minFree, _ := config.ParseMinFree(cfg.Storage.MinFree) // checked by Validate
	a.guard = newDiskGuard(cfg.Data, minFree, logger)
	a.guard.alert = a.diskAlert
	a.identity.ReadOnly = a.guard.Err
	a.events = a.db.Events()
	if err := a.openData(); err != nil {
		return nil, err
	}
	return a, nil
}

// Bootstrap creates the first administrator of the data directory in cfg
// with the one-time token printed by init (IAM-5). It works on the
// database directly, so it runs on the server's machine, whether or not the
// server is running.
func Bootstrap(ctx context.Context, cfg *config.Config, logger *slog.Logger, token string, spec identity.UserSpec, password string) (*identity.User, error) {
	a, err := open(ctx, cfg, logger, Options{}, false)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	ctx = strongroom.WithClient(ctx, strongroom.Client{Protocol: "cli", UserAgent: "strongroom admin bootstrap"})
	return a.identity.Bootstrap(ctx, token, spec, password)
}

// secretBoxes derives the identity service's secret boxes from the master
// key.
func secretBoxes(m *keys.MasterKey) (identity.Secrets, error) {
	totp, err := m.SecretBox("totp")
	if err != nil {
		return identity.Secrets{}, err
	}
	ak, err := m.SecretBox("access-key")
	if err != nil {
		return identity.Secrets{}, err
	}
	dir, err := m.SecretBox("directory")
	if err != nil {
		return identity.Secrets{}, err
	}
	return identity.Secrets{TOTP: totp, AccessKey: ak, Directory: dir}, nil
}

// checkDataDir refuses a data directory that other users can enter.
func checkDataDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return strongroom.E("app.checkDataDir", strongroom.Internal, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return strongroom.E("app.checkDataDir", strongroom.Invalid, fmt.Sprintf(
			"data directory %s has mode %04o; it holds keys, so other users must not enter it: chmod 700 %s", dir, fi.Mode().Perm(), dir))
	}
	return nil
}

// listen binds the HTTPS, redirect and metrics listeners.
func (a *App) listen(cert tls.Certificate) error {
	c := a.cfg.HTTP
	var trusted []netip.Prefix
	for _, p := range c.TrustedProxies {
		pfx, err := config.ParsePrefix(p)
		if err != nil {
			return strongroom.E("app.listen", strongroom.Invalid, err)
		}
		trusted = append(trusted, pfx)
	}
	clientAddr := api.NewClientAddr(trusted)
	apiServer := api.New(a.log, a.identity, clientAddr, []api.Check{
		{Name: "database", Func: a.db.Ping},
		{Name: "keys", Func: func(context.Context) error {
			_, err := keys.LoadMasterKeyFile(layout{a.cfg.Data}.masterKey())
			return err
		}},
	})
	apiServer.Now = a.now
	apiServer.Audit = a.trail
	a.auditReader = audit.NewReader(a.db.AuditQuery(), a.log.With("component", "audit"))
	a.auditReader.Now = a.now
	apiServer.AuditReader = a.auditReader
	apiServer.Objects = a.objects
	apiServer.Export = a.exportArchive
	mux := http.NewServeMux()
	apiServer.Register(mux)
	consoleServer := console.New(a.log, a.identity, clientAddr)
	consoleServer.Now = a.now
	consoleServer.Objects = a.objects
	consoleServer.Register(mux)
	s3 := a.s3Handler(clientAddr)
	// One listener serves the S3-compatible API, the JSON API and the
	// console: a request carrying an S3 signature goes to the S3 API.
	front := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s3api.IsS3Request(r) {
			s3.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})

	httpMetrics := newHTTPMetrics(a.metrics)
	handler := httpMetrics.wrap(securityHeaders(front, c.HSTSMaxAge.Std()))
	tlsConf := serverTLSConfig(cert, a.policy.TLS.Version())
	if err := a.addServer("https", c.Addr, handler, tlsConf); err != nil {
		return err
	}
	if c.RedirectAddr != "" {
		if err := a.addServer("redirect", c.RedirectAddr, redirectHandler(a.PublicURL), nil); err != nil {
			return err
		}
	}
	if a.cfg.Metrics.Addr != "" {
		a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		mm := http.NewServeMux()
		mm.Handle("GET /metrics", promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}))
		if err := a.addServer("metrics", a.cfg.Metrics.Addr, mm, nil); err != nil {
			return err
		}
	}
	return nil
}

func (a *App) addServer(name, addr string, h http.Handler, tlsConf *tls.Config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return strongroom.E("app.listen", strongroom.Unavailable, fmt.Sprintf("cannot listen on %s for %s", addr, name), err)
	}
	c := a.cfg.HTTP
	srv := &http.Server{
		Handler:           h,
		TLSConfig:         tlsConf,
		ReadHeaderTimeout: c.ReadHeaderTimeout.Std(),
		IdleTimeout:       c.IdleTimeout.Std(),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.With("listener", name).Handler(), slog.LevelDebug),
	}
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
	}
	a.servers = append(a.servers, &server{name: name, ln: ln, srv: srv, tls: tlsConf != nil})
	return nil
}

// Addr returns the bound address of a listener ("https", "redirect",
// "metrics"), or "" when it is off. Tests listen on port 0 and ask here.
func (a *App) Addr(name string) string {
	for _, s := range a.servers {
		if s.name == name {
			return s.ln.Addr().String()
		}
	}
	return ""
}

// PublicURL is the https:// base URL clients use.
func (a *App) PublicURL() string {
	if a.cfg.HTTP.PublicURL != "" {
		return a.cfg.HTTP.PublicURL
	}
	return "https://" + a.Addr("https")
}

// Run serves until ctx is done or a listener fails, then shuts down
// gracefully: listeners close at once, in-flight requests get up to
// http.shutdown_timeout to finish. Run closes nothing else; call Close.
func (a *App) Run(ctx context.Context) error {
	errc := make(chan error, len(a.servers)+1)
	for _, s := range a.servers {
		a.log.Info("listening", "listener", s.name, "addr", s.ln.Addr().String(), "tls", s.tls)
		go func() {
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("%s listener: %w", s.name, err)
			}
		}()
	}
	a.runSFTP(errc)
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	var background sync.WaitGroup
	background.Go(func() { a.maintain(bg) })
	background.Go(func() { a.integrate(bg) })
	background.Go(func() { a.guard.run(bg) })
	background.Go(func() { a.watchAlerts(bg) })
	background.Go(func() { a.stream(bg) })
	background.Go(func() { a.exportLoop(bg) })
	defer func() {
		stopBackground()
		background.Wait()
	}()

	var runErr error
	select {
	case <-ctx.Done():
		a.log.Info("shutting down", "reason", context.Cause(ctx))
	case runErr = <-errc:
		a.log.Error("listener failed; shutting down", "err", runErr)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.HTTP.ShutdownTimeout.Std())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { a.shutdownSFTP(shutdownCtx) })
	for _, s := range a.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Shutdown(shutdownCtx); err != nil {
				a.log.Warn("in-flight requests cut off at shutdown timeout", "listener", s.name, "err", err)
				s.srv.Close()
			}
		}()
	}
	wg.Wait()
	a.log.Info("all listeners stopped")
	return runErr
}

// Close releases everything New opened. It is safe to call more than once.
func (a *App) Close() error {
	a.closeOnce.Do(func() {
		a.closeSFTP()
		for _, s := range a.servers {
			s.srv.Close()
			s.ln.Close()
		}
		a.notify.close(a)
		if a.objects != nil {
			a.objects.Close()
		}
		if a.blobs != nil {
			a.blobs.Close()
		}
		if a.db != nil {
			a.closeErr = a.db.Close()
		}
	})
	return a.closeErr
}
