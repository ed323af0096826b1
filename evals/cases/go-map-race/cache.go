package cache

type Cache struct {
	items map[string]string
}

func New() *Cache {
	return &Cache{items: map[string]string{}}
}

// Set is called from many goroutines by the HTTP handlers.
func (c *Cache) Set(key, value string) {
	c.items[key] = value
}

func (c *Cache) Get(key string) (string, bool) {
	v, ok := c.items[key]
	return v, ok
}
