package layer2

// Announcement says where one owned address is announced.
type Announcement struct {
	// Interfaces limits the interfaces (L2Advertisement.interfaces); empty means every suitable one.
	Interfaces []string
}
