package kubetest

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Restart kills kube-apiserver, as a crash would, and starts it again
// while etcd keeps running: objects survive, and clients built from Config
// (same address, same certificates) reconnect by themselves. Their watches
// break and must be re-established, which is what a controller has to
// survive.
//
// It kills rather than stops because a graceful stop waits, up to the API
// server's one-minute shutdown timeout, for the watches clients hold open.
// The process killed is this test binary's own child, found by its
// parent and its port.
//
// envtest deletes the API server's certificate directory when it stops
// it, and would make new certificates that Config does not trust; so the
// first Restart copies the directory into etcd's data directory, which
// envtest deletes when the server is finally stopped, and the API server
// uses the copy from then on.
func (s *Server) Restart() error {
	api := s.env.ControlPlane.APIServer
	etcd := s.env.ControlPlane.Etcd
	if api == nil || etcd == nil || etcd.DataDir == "" {
		return errors.New("kubetest: Restart: the control plane was not started by kubetest")
	}
	keep := filepath.Join(etcd.DataDir, "kubetest-apiserver")
	if api.CertDir != keep {
		if err := copyFiles(api.CertDir, keep); err != nil {
			return fmt.Errorf("kubetest: Restart: keeping the API server's certificates: %w", err)
		}
	}
	u, err := url.Parse(s.Config.Host)
	if err != nil {
		return fmt.Errorf("kubetest: Restart: %w", err)
	}
	pid, err := childProcess("kube-apiserver", "--secure-port="+u.Port())
	if err != nil {
		return fmt.Errorf("kubetest: Restart: %w", err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kubetest: Restart: killing kube-apiserver %d: %w", pid, err)
	}
	// envtest reaps it; its Stop then finds it exited and only cleans up.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kubetest: Restart: kube-apiserver %d still there 30s after SIGKILL", pid)
		}
	}
	if err := api.Stop(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kubetest: Restart: stopping the API server: %w", err)
	}
	api.CertDir = keep
	if err := api.Start(); err != nil {
		return fmt.Errorf("kubetest: Restart: starting the API server again (set KUBEBUILDER_ATTACH_CONTROL_PLANE_OUTPUT=true to see its output): %w", err)
	}
	return nil
}

// childProcess finds the process id of this process's child named name
// whose command line holds arg, through /proc (Linux).
func childProcess(name, arg string) (int, error) {
	es, err := os.ReadDir("/proc")
	if err != nil {
		return 0, fmt.Errorf("finding %s: %w", name, err)
	}
	self := os.Getpid()
	for _, e := range es {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after
		// its closing parenthesis.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || !bytes.HasPrefix(stat, []byte(fmt.Sprintf("%d (%s)", pid, name))) {
			continue
		}
		fields := bytes.Fields(stat[i+1:])
		if len(fields) < 2 || string(fields[1]) != strconv.Itoa(self) {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(cmdline, []byte{0}) {
			if string(a) == arg {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no child process %s with %s", name, arg)
}

// copyFiles copies the regular files of directory from into to.
func copyFiles(from, to string) error {
	if err := os.MkdirAll(to, 0o700); err != nil {
		return err
	}
	es, err := os.ReadDir(from)
	if err != nil {
		return err
	}
	for _, e := range es {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
