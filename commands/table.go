package commands

// NewRedisTable returns the table of every implemented command. Each
// family file registers its commands; metadata (arity, flags, key
// positions, categories, docs) comes from the recorded Redis 7.0 data.
func NewRedisTable() *Table {
	t := NewTable()
	for _, register := range families {
		register(t)
	}
	return t
}

// families lists the per-family registration functions (one per family
// file), in registration order; adding a family means adding it here, not
// an init() in its file.
var families = []func(*Table){
	registerConnection,
	registerServer,
	registerCommandCmd,
	registerKeys,
	registerExpire,
	registerStrings,
	registerBitmaps,
	registerLists,
	registerSort,
	registerHashes,
	registerSets,
	registerHLL,
	registerMulti,
	registerZSets,
	registerGeo,
	registerCluster,
}
