// Command hello is the small binary the tests of impl/images build for real: it prints the
// version the build stamped in.
package main

import "fmt"

var version string

func main() { fmt.Println("hello", version) }
