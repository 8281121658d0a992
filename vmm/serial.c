/* vmm/serial.c: a 16550A UART as COM1 (0x3f8, irq 4), enough for Linux's
 * 8250 driver: console output goes to a file descriptor as it is written,
 * the THR-empty interrupt lets the tty layer send, input is not wired. */
#include <string.h>

#include "lib/util.h"
#include "vmm/internal.h"

#define UART_IER_RDI  0x01
#define UART_IER_THRI 0x02
#define UART_IIR_NONE 0x01
#define UART_IIR_THRI 0x02
#define UART_FCR_FIFO 0x01
#define UART_LCR_DLAB 0x80
#define UART_MCR_LOOP 0x10
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

void vmm_serial_init(struct vmm_serial *s, int out_fd, vmm_irq_fn irq, void *ctx)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->out_fd = out_fd;
	s->irq = irq;
	s->irq_ctx = ctx;
	s->iir_fcr = 0;
	s->mcr = 0x08; /* OUT2 */
}

void vmm_serial_destroy(struct vmm_serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* The transmitter is always empty: bytes leave as soon as they are written.
 * So the only interrupt is "THR empty", raised once per byte or when the
 * driver enables it, and cleared by reading IIR. */
static void raise_thri(struct vmm_serial *s)
{
	s->thri_pending = true;
	if ((s->ier & UART_IER_THRI) && s->irq)
		s->irq(s->irq_ctx, VMM_SERIAL_IRQ);
}

static uint8_t msr(const struct vmm_serial *s)
{
	if (s->mcr & UART_MCR_LOOP) /* RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD */
		return (uint8_t)(((s->mcr & 0x02) << 3) | ((s->mcr & 0x01) << 5) |
		                 ((s->mcr & 0x04) << 4) | ((s->mcr & 0x08) << 4));
	return 0xb0; /* DCD, DSR, CTS */
}

static uint8_t serial_read(struct vmm_serial *s, unsigned int off)
{
	bool dlab = s->lcr & UART_LCR_DLAB;
	uint8_t fifo = (s->iir_fcr & UART_FCR_FIFO) ? 0xc0 : 0;

	switch (off) {
	case 0:
		return dlab ? s->dll : 0;
	case 1:
		return dlab ? s->dlm : s->ier;
	case 2:
		if (s->thri_pending && (s->ier & UART_IER_THRI)) {
			s->thri_pending = false;
			return fifo | UART_IIR_THRI;
		}
		return fifo | UART_IIR_NONE;
	case 3:
		return s->lcr;
	case 4:
		return s->mcr;
	case 5:
		return UART_LSR_THRE | UART_LSR_TEMT;
	case 6:
		return msr(s);
	default:
		return s->scr;
	}
}

static void serial_write(struct vmm_serial *s, unsigned int off, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (off) {
	case 0:
		if (dlab) {
			s->dll = v;
			break;
		}
		if (s->out_fd >= 0 && !(s->mcr & UART_MCR_LOOP))
			(void)util_write_all(s->out_fd, &v, 1);
		raise_thri(s);
		break;
	case 1:
		if (dlab) {
			s->dlm = v;
			break;
		}
		{
			bool was = s->ier & UART_IER_THRI;

			s->ier = v & 0x0f;
			if (!was && (s->ier & UART_IER_THRI))
				raise_thri(s);
		}
		break;
	case 2:
		s->iir_fcr = v;
		break;
	case 3:
		s->lcr = v;
		break;
	case 4:
		s->mcr = v & 0x1f;
		break;
	case 7:
		s->scr = v;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

void vmm_serial_io(struct vmm_serial *s, unsigned int off, bool write, uint8_t *data)
{
	pthread_mutex_lock(&s->lock);
	if (write)
		serial_write(s, off & 7, *data);
	else
		*data = serial_read(s, off & 7);
	pthread_mutex_unlock(&s->lock);
}
