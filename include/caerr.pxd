# Cython declarations for EPICS caerr.h: Channel Access ECA_* status codes.
# Declarations only.

cdef extern from "caerr.h" nogil:

    # --- severity codes (low 3 bits of a status) ---------------------------
    enum:
        CA_K_INFO                       # 3
        CA_K_ERROR                      # 2
        CA_K_SUCCESS                    # 1
        CA_K_WARNING                    # 0
        CA_K_SEVERE                     # 4
        # header macro is the unparenthesized "CA_K_ERROR | CA_K_SEVERE"
        CA_K_FATAL "(CA_K_FATAL)"       # 6

    # --- field masks, sizes and shifts -------------------------------------
    enum:
        CA_M_MSG_NO                     # 0x0000FFF8
        CA_M_SEVERITY                   # 0x00000007
        CA_M_LEVEL                      # 0x00000003
        CA_M_SUCCESS                    # 0x00000001
        CA_M_ERROR                      # 0x00000002
        CA_M_SEVERE                     # 0x00000004
        CA_S_MSG_NO                     # 0x0D
        CA_S_SEVERITY                   # 0x03
        CA_V_MSG_NO                     # 0x03
        CA_V_SEVERITY                   # 0x00
        CA_V_SUCCESS                    # 0x00

    # function-like macros
    long CA_EXTRACT_MSG_NO(long code)
    long CA_EXTRACT_SEVERITY(long code)
    long CA_EXTRACT_SUCCESS(long code)

    # --- status codes: (msg_no << 3) | severity ----------------------------
    enum:
        ECA_NORMAL                      # 0  success
        ECA_MAXIOC                      # 1  error
        ECA_UKNHOST                     # 2  error
        ECA_UKNSERV                     # 3  error
        ECA_SOCK                        # 4  error
        ECA_CONN                        # 5  warning
        ECA_ALLOCMEM                    # 6  warning
        ECA_UKNCHAN                     # 7  warning
        ECA_UKNFIELD                    # 8  warning
        ECA_TOLARGE                     # 9  warning
        ECA_TIMEOUT                     # 10 warning
        ECA_NOSUPPORT                   # 11 warning
        ECA_STRTOBIG                    # 12 warning
        ECA_DISCONNCHID                 # 13 error
        ECA_BADTYPE                     # 14 error
        ECA_CHIDNOTFND                  # 15 info
        ECA_CHIDRETRY                   # 16 info
        ECA_INTERNAL                    # 17 fatal
        ECA_DBLCLFAIL                   # 18 warning
        ECA_GETFAIL                     # 19 warning
        ECA_PUTFAIL                     # 20 warning
        ECA_ADDFAIL                     # 21 warning
        ECA_BADCOUNT                    # 22 warning
        ECA_BADSTR                      # 23 error
        ECA_DISCONN                     # 24 warning
        ECA_DBLCHNL                     # 25 warning
        ECA_EVDISALLOW                  # 26 error
        ECA_BUILDGET                    # 27 warning
        ECA_NEEDSFP                     # 28 warning
        ECA_OVEVFAIL                    # 29 warning
        ECA_BADMONID                    # 30 error
        ECA_NEWADDR                     # 31 warning
        ECA_NEWCONN                     # 32 info
        ECA_NOCACTX                     # 33 warning
        ECA_DEFUNCT                     # 34 fatal
        ECA_EMPTYSTR                    # 35 warning
        ECA_NOREPEATER                  # 36 warning
        ECA_NOCHANMSG                   # 37 warning
        ECA_DLCKREST                    # 38 warning
        ECA_SERVBEHIND                  # 39 warning
        ECA_NOCAST                      # 40 warning
        ECA_BADMASK                     # 41 error
        ECA_IODONE                      # 42 info
        ECA_IOINPROGRESS                # 43 info
        ECA_BADSYNCGRP                  # 44 error
        ECA_PUTCBINPROG                 # 45 error
        ECA_NORDACCESS                  # 46 warning
        ECA_NOWTACCESS                  # 47 warning
        ECA_ANACHRONISM                 # 48 error
        ECA_NOSEARCHADDR                # 49 warning
        ECA_NOCONVERT                   # 50 warning
        ECA_BADCHID                     # 51 error
        ECA_BADFUNCPTR                  # 52 error
        ECA_ISATTACHED                  # 53 warning
        ECA_UNAVAILINSERV               # 54 warning
        ECA_CHANDESTROY                 # 55 warning
        ECA_BADPRIORITY                 # 56 error
        ECA_NOTTHREADED                 # 57 error
        ECA_16KARRAYCLIENT              # 58 warning
        ECA_CONNSEQTMO                  # 59 warning
        ECA_UNRESPTMO                   # 60 warning

    # --- message text (exported by libca) ----------------------------------
    const char *ca_message(long ca_status)
    const char *ca_message_text[]       # indexed by CA_EXTRACT_MSG_NO(status)
