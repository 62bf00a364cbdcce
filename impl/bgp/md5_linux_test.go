//go:build linux

package bgp

import (
	"net"
	"syscall"
	"unsafe"
)

// md5Supported reports whether the kernel accepts a TCP MD5 key on a socket.
func md5Supported() bool {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return false
	}
	defer l.Close()
	raw, err := l.(*net.TCPListener).SyscallConn()
	if err != nil {
		return false
	}
	var sig struct {
		family    uint16
		addr      [126]byte
		flags     uint8
		prefixlen uint8
		keylen    uint16
		ifindex   uint32
		key       [80]byte
	}
	sig.family = syscall.AF_INET
	copy(sig.addr[2:], net.IPv4(127, 0, 0, 3).To4())
	sig.keylen = 4
	copy(sig.key[:], "test")
	var serr syscall.Errno
	_ = raw.Control(func(fd uintptr) {
		_, _, serr = syscall.Syscall6(syscall.SYS_SETSOCKOPT, fd, syscall.IPPROTO_TCP, 14 /* TCP_MD5SIG */, uintptr(unsafe.Pointer(&sig)), unsafe.Sizeof(sig), 0)
	})
	return serr == 0
}
