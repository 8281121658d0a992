/* vmm/mem.c: guest physical address checks shared by the loader and the
 * devices. */
#include "vmm/virtio.h"

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < m->nr; i++) {
		const struct guest_region *r = &m->r[i];

		if (gpa < r->gpa || gpa - r->gpa > r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}
