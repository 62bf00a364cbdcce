package router

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"reflect"
	"testing"
)

// rib.json as the router writes it reads back the same; a router without one says so.
func TestReadRIB(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadRIB(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("no rib.json: err = %v, want not-exist", err)
	}
	want := RIB{Router: "tor", ASN: 64500, Paths: []Path{{Prefix: "10.200.0.1/32", NextHop: "172.18.0.3", Neighbor: "172.18.0.3",
		ASPath: []uint32{64512}, LocalPref: 100, Communities: []string{"64512:100", "large:64512:1:2"}, Best: true}}}
	data, _ := json.MarshalIndent(want, "", "  ")
	if err := os.WriteFile(RIBFile(dir), data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRIB(dir)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("ReadRIB = %+v, %v; want %+v", got, err, want)
	}
	if err := os.WriteFile(RIBFile(dir), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadRIB(dir); err == nil {
		t.Error("a torn rib.json read without an error")
	}
}
