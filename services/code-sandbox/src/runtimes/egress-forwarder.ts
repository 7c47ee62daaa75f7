/**
 * How a program in a sandbox with network egress reaches the service's egress proxy without a network: the
 * proxy listens on a unix socket in the sandbox's egress directory, which every runtime binds read-only at
 * {@link EGRESS_DIR_INSIDE}. The exec's wrapper runs the program under {@link EGRESS_LAUNCHER}: a small
 * Python forwarder listening on the sandbox's own loopback, relaying each connection to the socket.
 */

/** Where the sandbox's egress directory (socket and forwarder) appears inside, read-only. */
export const EGRESS_DIR_INSIDE = '/.aibox/egress';
/** The proxy's socket, in the egress directory. */
export const EGRESS_SOCKET_NAME = 'egress.sock';
/** The forwarder's source, in the egress directory; the service writes it there. */
export const EGRESS_FORWARDER_NAME = 'forwarder.py';
/**
 * The interpreter: the host's for `process` (its /usr is the sandbox's), the image's for `docker`. `-I -S`:
 * no user site, no `PYTHON*` variables and no script directory on the path, so the program's environment
 * cannot change what the forwarder runs.
 */
export const EGRESS_PYTHON = '/usr/bin/python3';

/**
 * The wrapper's prefix to the command that runs the program: `<launcher> <program argv…>`. The forwarder
 * starts the program with the proxy variables set and ends with it, with its status (128 + N for signal N),
 * so it lives exactly as long as the program, inside the exec's process group and cgroup.
 */
export const EGRESS_LAUNCHER = `${EGRESS_PYTHON} -I -S ${EGRESS_DIR_INSIDE}/${EGRESS_FORWARDER_NAME}`;

/**
 * The forwarder. It listens on 127.0.0.1 on a port the kernel picks (a container's execs share one loopback,
 * so a fixed port would collide), starts the program with `HTTP_PROXY`, `HTTPS_PROXY`, `http_proxy` and
 * `https_proxy` pointing there and `NO_PROXY` / `no_proxy` removed (fork and exec: `posix_spawn` would leave
 * glibc's internal signals ignored in the program), and relays bytes both ways (half-closes
 * included) in one thread, so it costs the sandbox one pid. It exits 125 when it cannot listen, 127 when the
 * program cannot be started, and otherwise as the program did. It ignores SIGHUP, SIGINT, SIGQUIT and SIGTERM
 * (a program signalling its process group must not strand itself without a proxy) and restores them, and the
 * SIGPIPE / SIGXFSZ that Python ignores, to their defaults for the program.
 */
export const EGRESS_FORWARDER_SOURCE = `"""aibox egress forwarder: runs a program with the HTTP(S) proxy variables pointing at a listener on this
sandbox's own loopback, and relays each connection to the service's egress proxy through its unix socket."""
import errno
import os
import selectors
import signal
import socket
import sys

SOCKET = '${EGRESS_DIR_INSIDE}/${EGRESS_SOCKET_NAME}'
CHUNK = 65536
READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE
OUT_OF_DESCRIPTORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def fail(message, status):
    sys.stderr.write('aibox egress: ' + message + '\\n')
    sys.stderr.flush()
    os._exit(status)


def program_env(port):
    # The environment as it was given to this process: Python may coerce the locale in os.environ.
    try:
        with open('/proc/self/environ', 'rb') as source:
            entries = source.read().split(b'\\0')
        env = dict(entry.split(b'=', 1) for entry in entries if b'=' in entry)
    except OSError:
        env = dict(os.environb)
    env.pop(b'NO_PROXY', None)
    env.pop(b'no_proxy', None)
    proxy = ('http://127.0.0.1:%d' % port).encode()
    for name in (b'HTTP_PROXY', b'HTTPS_PROXY', b'http_proxy', b'https_proxy'):
        env[name] = proxy
    return env


def quiet_signals():
    reset = {signal.SIGPIPE, signal.SIGXFSZ}
    for number in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM):
        if signal.getsignal(number) == signal.SIG_IGN:
            continue
        reset.add(number)
        signal.signal(number, signal.SIG_IGN)
    return reset


class Pair:
    """A connection from the program (end 0) and its connection to the proxy (end 1)."""

    def __init__(self, client, upstream):
        self.ends = (client, upstream)
        self.pending = [b'', b'']
        self.eof = [False, False]
        self.shut = [False, False]
        self.masks = [0, 0]


class Relay:
    def __init__(self, listener):
        self.listener = listener
        self.selector = selectors.DefaultSelector()
        self.selector.register(listener, READ, None)
        self.accepting = True

    def run(self, pid):
        try:
            exited = os.pidfd_open(pid)
            self.selector.register(exited, READ, 'exit')
            timeout = None
        except (AttributeError, OSError):
            timeout = 0.2
        while True:
            for key, mask in self.selector.select(timeout):
                if key.data is None:
                    self.accept()
                elif key.data != 'exit':
                    self.transfer(key.data[0], key.data[1], mask)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == pid:
                code = os.waitstatus_to_exitcode(status)
                return code if code >= 0 else 128 - code

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno in OUT_OF_DESCRIPTORS:
                    self.pause()
                return
            try:
                upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            except OSError:
                client.close()
                self.pause()
                return
            try:
                upstream.connect(SOCKET)
            except OSError:
                client.close()
                upstream.close()
                continue
            client.setblocking(False)
            upstream.setblocking(False)
            self.update(Pair(client, upstream))

    def pause(self):
        if self.accepting:
            self.selector.unregister(self.listener)
            self.accepting = False

    def transfer(self, pair, end, mask):
        try:
            if mask & READ:
                self.pull(pair, end)
            if mask & WRITE:
                self.push(pair, 1 - end)
            if pair.pending[end]:
                self.push(pair, end)
        except OSError:
            self.close(pair)
            return
        for source in (0, 1):
            if pair.eof[source] and not pair.pending[source] and not pair.shut[source]:
                pair.shut[source] = True
                try:
                    pair.ends[1 - source].shutdown(socket.SHUT_WR)
                except OSError:
                    pass
        if pair.shut[0] and pair.shut[1]:
            self.close(pair)
        else:
            self.update(pair)

    def pull(self, pair, source):
        if pair.pending[source] or pair.eof[source]:
            return
        try:
            data = pair.ends[source].recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        if data:
            pair.pending[source] = data
        else:
            pair.eof[source] = True

    def push(self, pair, source):
        if not pair.pending[source]:
            return
        try:
            sent = pair.ends[1 - source].send(pair.pending[source])
        except (BlockingIOError, InterruptedError):
            return
        pair.pending[source] = pair.pending[source][sent:]

    def update(self, pair):
        for end in (0, 1):
            mask = 0
            if not pair.eof[end] and not pair.pending[end]:
                mask |= READ
            if pair.pending[1 - end]:
                mask |= WRITE
            if mask == pair.masks[end]:
                continue
            sock = pair.ends[end]
            if pair.masks[end] == 0:
                self.selector.register(sock, mask, (pair, end))
            elif mask == 0:
                self.selector.unregister(sock)
            else:
                self.selector.modify(sock, mask, (pair, end))
            pair.masks[end] = mask

    def close(self, pair):
        for end in (0, 1):
            if pair.masks[end] != 0:
                self.selector.unregister(pair.ends[end])
                pair.masks[end] = 0
            pair.ends[end].close()
        if not self.accepting:
            self.selector.register(self.listener, READ, None)
            self.accepting = True


def main():
    argv = sys.argv[1:]
    if not argv:
        fail('no program to run', 125)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(('127.0.0.1', 0))
        listener.listen(128)
    except OSError as error:
        fail('cannot listen on 127.0.0.1: %s' % (error.strerror or error), 125)
    listener.setblocking(False)
    env = program_env(listener.getsockname()[1])
    reset = quiet_signals()
    pid = os.fork()
    if pid == 0:
        for number in reset:
            signal.signal(number, signal.SIG_DFL)
        try:
            os.execvpe(argv[0], argv, env)
        except OSError as error:
            fail('cannot run %s: %s' % (argv[0], error.strerror or error), 127)
    os._exit(Relay(listener).run(pid))


main()
`;
