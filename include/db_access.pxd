# Cython declarations for EPICS db_access.h (DBR/DBF type codes and the
# DBR_* value structures exchanged with libca).  Declarations only.

# --- epicsTypes.h: fixed-size types used by the dbr_*_t typedefs -----------
cdef extern from "epicsTypes.h" nogil:
    enum:
        MAX_STRING_SIZE                 # 40

    ctypedef signed char epicsInt8
    ctypedef unsigned char epicsUInt8
    ctypedef short epicsInt16
    ctypedef unsigned short epicsUInt16
    ctypedef int epicsInt32
    ctypedef unsigned int epicsUInt32
    ctypedef epicsUInt16 epicsEnum16
    ctypedef float epicsFloat32
    ctypedef double epicsFloat64
    ctypedef char epicsOldString[MAX_STRING_SIZE]

    # needed only by DBR_XXXXToEpicsType below
    ctypedef enum epicsType:
        epicsInt8T
        epicsUInt8T
        epicsInt16T
        epicsUInt16T
        epicsEnum16T
        epicsInt32T
        epicsUInt32T
        epicsFloat32T
        epicsFloat64T
        epicsStringT
        epicsOldStringT


# --- epicsTime.h: time stamp carried by the DBR_TIME_* structures ----------
cdef extern from "epicsTime.h" nogil:
    ctypedef struct epicsTimeStamp:
        epicsUInt32 secPastEpoch        # seconds since 0000 Jan 1, 1990
        epicsUInt32 nsec                # nanoseconds within second

    # POSIX seconds at the EPICS epoch (1990-01-01 UTC); the header's macro is unsigned
    unsigned long POSIX_TIME_AT_EPICS_EPOCH


# --- cadef.h: TYPENOTCONN lives in cadef.h; re-exported here ---------------
from cadef cimport TYPENOTCONN


cdef extern from "db_access.h" nogil:

    # --- size limits -------------------------------------------------------
    enum:
        MAX_UNITS_SIZE                  # 8
        MAX_ENUM_STRING_SIZE            # 26
        MAX_ENUM_STATES                 # 16

    # --- value types -------------------------------------------------------
    ctypedef epicsOldString dbr_string_t
    ctypedef epicsUInt8 dbr_char_t
    ctypedef epicsInt16 dbr_short_t
    ctypedef epicsUInt16 dbr_ushort_t
    ctypedef epicsInt16 dbr_int_t
    ctypedef epicsUInt16 dbr_enum_t
    ctypedef epicsInt32 dbr_long_t
    ctypedef epicsUInt32 dbr_ulong_t
    ctypedef epicsFloat32 dbr_float_t
    ctypedef epicsFloat64 dbr_double_t
    ctypedef epicsUInt16 dbr_put_ackt_t
    ctypedef epicsUInt16 dbr_put_acks_t
    ctypedef epicsOldString dbr_stsack_string_t
    ctypedef epicsOldString dbr_class_name_t

    # --- DBF_* field type codes --------------------------------------------
    enum:
        DBF_STRING                      # 0
        DBF_INT                         # 1 (same as DBF_SHORT)
        DBF_SHORT                       # 1
        DBF_FLOAT                       # 2
        DBF_ENUM                        # 3
        DBF_CHAR                        # 4
        DBF_LONG                        # 5
        DBF_DOUBLE                      # 6
        DBF_NO_ACCESS                   # 7
        LAST_TYPE                       # DBF_DOUBLE

    # --- DBR_* request type codes ------------------------------------------
    enum:
        DBR_STRING                      # 0
        DBR_INT                         # 1
        DBR_SHORT                       # 1
        DBR_FLOAT                       # 2
        DBR_ENUM                        # 3
        DBR_CHAR                        # 4
        DBR_LONG                        # 5
        DBR_DOUBLE                      # 6
        DBR_STS_STRING                  # 7
        DBR_STS_SHORT                   # 8
        DBR_STS_INT                     # 8
        DBR_STS_FLOAT                   # 9
        DBR_STS_ENUM                    # 10
        DBR_STS_CHAR                    # 11
        DBR_STS_LONG                    # 12
        DBR_STS_DOUBLE                  # 13
        DBR_TIME_STRING                 # 14
        DBR_TIME_INT                    # 15
        DBR_TIME_SHORT                  # 15
        DBR_TIME_FLOAT                  # 16
        DBR_TIME_ENUM                   # 17
        DBR_TIME_CHAR                   # 18
        DBR_TIME_LONG                   # 19
        DBR_TIME_DOUBLE                 # 20
        DBR_GR_STRING                   # 21 (buffer is a dbr_sts_string)
        DBR_GR_SHORT                    # 22
        DBR_GR_INT                      # 22
        DBR_GR_FLOAT                    # 23
        DBR_GR_ENUM                     # 24
        DBR_GR_CHAR                     # 25
        DBR_GR_LONG                     # 26
        DBR_GR_DOUBLE                   # 27
        DBR_CTRL_STRING                 # 28 (buffer is a dbr_sts_string)
        DBR_CTRL_SHORT                  # 29
        DBR_CTRL_INT                    # 29
        DBR_CTRL_FLOAT                  # 30
        DBR_CTRL_ENUM                   # 31
        DBR_CTRL_CHAR                   # 32
        DBR_CTRL_LONG                   # 33
        DBR_CTRL_DOUBLE                 # 34
        # The header defines these four (and LAST_BUFFER_TYPE) as bare
        # "X + 1" macros without parentheses; the C names below wrap them so
        # that e.g. 2*DBR_PUT_ACKT in Cython code expands correctly.
        DBR_PUT_ACKT "(DBR_PUT_ACKT)"             # 35
        DBR_PUT_ACKS "(DBR_PUT_ACKS)"             # 36
        DBR_STSACK_STRING "(DBR_STSACK_STRING)"   # 37
        DBR_CLASS_NAME "(DBR_CLASS_NAME)"         # 38
        LAST_BUFFER_TYPE "(LAST_BUFFER_TYPE)"     # DBR_CLASS_NAME

    # --- DBR_STS_* ---------------------------------------------------------
    cdef struct dbr_sts_string:
        dbr_short_t status
        dbr_short_t severity
        dbr_string_t value

    # DBR_STSACK_STRING (alarm acknowledge state)
    cdef struct dbr_stsack_string:
        dbr_ushort_t status
        dbr_ushort_t severity
        dbr_ushort_t ackt
        dbr_ushort_t acks
        dbr_string_t value

    cdef struct dbr_sts_int:
        dbr_short_t status
        dbr_short_t severity
        dbr_short_t value

    cdef struct dbr_sts_short:
        dbr_short_t status
        dbr_short_t severity
        dbr_short_t value

    cdef struct dbr_sts_float:
        dbr_short_t status
        dbr_short_t severity
        dbr_float_t value

    cdef struct dbr_sts_enum:
        dbr_short_t status
        dbr_short_t severity
        dbr_enum_t value

    cdef struct dbr_sts_char:
        dbr_short_t status
        dbr_short_t severity
        dbr_char_t RISC_pad
        dbr_char_t value

    cdef struct dbr_sts_long:
        dbr_short_t status
        dbr_short_t severity
        dbr_long_t value

    cdef struct dbr_sts_double:
        dbr_short_t status
        dbr_short_t severity
        dbr_long_t RISC_pad
        dbr_double_t value

    # --- DBR_TIME_* --------------------------------------------------------
    cdef struct dbr_time_string:
        dbr_short_t status
        dbr_short_t severity
        epicsTimeStamp stamp
        dbr_string_t value

    cdef struct dbr_time_short:
        dbr_short_t status
        dbr_short_t severity
        epicsTimeStamp stamp
        dbr_short_t RISC_pad
        dbr_short_t value

    cdef struct dbr_time_float:
        dbr_short_t status
        dbr_short_t severity
        epicsTimeStamp stamp
        dbr_float_t value

    cdef struct dbr_time_enum:
        dbr_short_t status
        dbr_short_t severity
        epicsTimeStamp stamp
        dbr_short_t RISC_pad
        dbr_enum_t value

    cdef struct dbr_time_char:
        dbr_short_t status
        dbr_short_t severity
        epicsTimeStamp stamp
        dbr_short_t RISC_pad0
        dbr_char_t RISC_pad1
        dbr_char_t value

    cdef struct dbr_time_long:
        dbr_short_t status
        dbr_short_t severity
        epicsTimeStamp stamp
        dbr_long_t value

    cdef struct dbr_time_double:
        dbr_short_t status
        dbr_short_t severity
        epicsTimeStamp stamp
        dbr_long_t RISC_pad
        dbr_double_t value

    # --- DBR_GR_* (DBR_GR_STRING uses dbr_sts_string) ----------------------
    cdef struct dbr_gr_int:
        dbr_short_t status
        dbr_short_t severity
        char units[MAX_UNITS_SIZE]
        dbr_short_t upper_disp_limit
        dbr_short_t lower_disp_limit
        dbr_short_t upper_alarm_limit
        dbr_short_t upper_warning_limit
        dbr_short_t lower_warning_limit
        dbr_short_t lower_alarm_limit
        dbr_short_t value

    cdef struct dbr_gr_short:
        dbr_short_t status
        dbr_short_t severity
        char units[MAX_UNITS_SIZE]
        dbr_short_t upper_disp_limit
        dbr_short_t lower_disp_limit
        dbr_short_t upper_alarm_limit
        dbr_short_t upper_warning_limit
        dbr_short_t lower_warning_limit
        dbr_short_t lower_alarm_limit
        dbr_short_t value

    cdef struct dbr_gr_float:
        dbr_short_t status
        dbr_short_t severity
        dbr_short_t precision
        dbr_short_t RISC_pad0
        char units[MAX_UNITS_SIZE]
        dbr_float_t upper_disp_limit
        dbr_float_t lower_disp_limit
        dbr_float_t upper_alarm_limit
        dbr_float_t upper_warning_limit
        dbr_float_t lower_warning_limit
        dbr_float_t lower_alarm_limit
        dbr_float_t value

    cdef struct dbr_gr_enum:
        dbr_short_t status
        dbr_short_t severity
        dbr_short_t no_str
        char strs[MAX_ENUM_STATES][MAX_ENUM_STRING_SIZE]
        dbr_enum_t value

    cdef struct dbr_gr_char:
        dbr_short_t status
        dbr_short_t severity
        char units[MAX_UNITS_SIZE]
        dbr_char_t upper_disp_limit
        dbr_char_t lower_disp_limit
        dbr_char_t upper_alarm_limit
        dbr_char_t upper_warning_limit
        dbr_char_t lower_warning_limit
        dbr_char_t lower_alarm_limit
        dbr_char_t RISC_pad
        dbr_char_t value

    cdef struct dbr_gr_long:
        dbr_short_t status
        dbr_short_t severity
        char units[MAX_UNITS_SIZE]
        dbr_long_t upper_disp_limit
        dbr_long_t lower_disp_limit
        dbr_long_t upper_alarm_limit
        dbr_long_t upper_warning_limit
        dbr_long_t lower_warning_limit
        dbr_long_t lower_alarm_limit
        dbr_long_t value

    cdef struct dbr_gr_double:
        dbr_short_t status
        dbr_short_t severity
        dbr_short_t precision
        dbr_short_t RISC_pad0
        char units[MAX_UNITS_SIZE]
        dbr_double_t upper_disp_limit
        dbr_double_t lower_disp_limit
        dbr_double_t upper_alarm_limit
        dbr_double_t upper_warning_limit
        dbr_double_t lower_warning_limit
        dbr_double_t lower_alarm_limit
        dbr_double_t value

    # --- DBR_CTRL_* (DBR_CTRL_STRING uses dbr_sts_string) ------------------
    cdef struct dbr_ctrl_int:
        dbr_short_t status
        dbr_short_t severity
        char units[MAX_UNITS_SIZE]
        dbr_short_t upper_disp_limit
        dbr_short_t lower_disp_limit
        dbr_short_t upper_alarm_limit
        dbr_short_t upper_warning_limit
        dbr_short_t lower_warning_limit
        dbr_short_t lower_alarm_limit
        dbr_short_t upper_ctrl_limit
        dbr_short_t lower_ctrl_limit
        dbr_short_t value

    cdef struct dbr_ctrl_short:
        dbr_short_t status
        dbr_short_t severity
        char units[MAX_UNITS_SIZE]
        dbr_short_t upper_disp_limit
        dbr_short_t lower_disp_limit
        dbr_short_t upper_alarm_limit
        dbr_short_t upper_warning_limit
        dbr_short_t lower_warning_limit
        dbr_short_t lower_alarm_limit
        dbr_short_t upper_ctrl_limit
        dbr_short_t lower_ctrl_limit
        dbr_short_t value

    # note: the pad is named RISC_pad here, RISC_pad0 in dbr_gr_float
    cdef struct dbr_ctrl_float:
        dbr_short_t status
        dbr_short_t severity
        dbr_short_t precision
        dbr_short_t RISC_pad
        char units[MAX_UNITS_SIZE]
        dbr_float_t upper_disp_limit
        dbr_float_t lower_disp_limit
        dbr_float_t upper_alarm_limit
        dbr_float_t upper_warning_limit
        dbr_float_t lower_warning_limit
        dbr_float_t lower_alarm_limit
        dbr_float_t upper_ctrl_limit
        dbr_float_t lower_ctrl_limit
        dbr_float_t value

    cdef struct dbr_ctrl_enum:
        dbr_short_t status
        dbr_short_t severity
        dbr_short_t no_str
        char strs[MAX_ENUM_STATES][MAX_ENUM_STRING_SIZE]
        dbr_enum_t value

    cdef struct dbr_ctrl_char:
        dbr_short_t status
        dbr_short_t severity
        char units[MAX_UNITS_SIZE]
        dbr_char_t upper_disp_limit
        dbr_char_t lower_disp_limit
        dbr_char_t upper_alarm_limit
        dbr_char_t upper_warning_limit
        dbr_char_t lower_warning_limit
        dbr_char_t lower_alarm_limit
        dbr_char_t upper_ctrl_limit
        dbr_char_t lower_ctrl_limit
        dbr_char_t RISC_pad
        dbr_char_t value

    cdef struct dbr_ctrl_long:
        dbr_short_t status
        dbr_short_t severity
        char units[MAX_UNITS_SIZE]
        dbr_long_t upper_disp_limit
        dbr_long_t lower_disp_limit
        dbr_long_t upper_alarm_limit
        dbr_long_t upper_warning_limit
        dbr_long_t lower_warning_limit
        dbr_long_t lower_alarm_limit
        dbr_long_t upper_ctrl_limit
        dbr_long_t lower_ctrl_limit
        dbr_long_t value

    cdef struct dbr_ctrl_double:
        dbr_short_t status
        dbr_short_t severity
        dbr_short_t precision
        dbr_short_t RISC_pad0
        char units[MAX_UNITS_SIZE]
        dbr_double_t upper_disp_limit
        dbr_double_t lower_disp_limit
        dbr_double_t upper_alarm_limit
        dbr_double_t upper_warning_limit
        dbr_double_t lower_warning_limit
        dbr_double_t lower_alarm_limit
        dbr_double_t upper_ctrl_limit
        dbr_double_t lower_ctrl_limit
        dbr_double_t value

    # --- union of every buffer type ----------------------------------------
    cdef union db_access_val:
        dbr_string_t strval
        dbr_short_t shrtval
        dbr_short_t intval
        dbr_float_t fltval
        dbr_enum_t enmval
        dbr_char_t charval
        dbr_long_t longval
        dbr_double_t doubleval
        dbr_sts_string sstrval
        dbr_sts_short sshrtval
        dbr_sts_float sfltval
        dbr_sts_enum senmval
        dbr_sts_char schrval
        dbr_sts_long slngval
        dbr_sts_double sdblval
        dbr_time_string tstrval
        dbr_time_short tshrtval
        dbr_time_float tfltval
        dbr_time_enum tenmval
        dbr_time_char tchrval
        dbr_time_long tlngval
        dbr_time_double tdblval
        dbr_sts_string gstrval
        dbr_gr_short gshrtval
        dbr_gr_float gfltval
        dbr_gr_enum genmval
        dbr_gr_char gchrval
        dbr_gr_long glngval
        dbr_gr_double gdblval
        dbr_sts_string cstrval
        dbr_ctrl_short cshrtval
        dbr_ctrl_float cfltval
        dbr_ctrl_enum cenmval
        dbr_ctrl_char cchrval
        dbr_ctrl_long clngval
        dbr_ctrl_double cdblval
        dbr_put_ackt_t putackt
        dbr_put_acks_t putacks
        dbr_sts_string sastrval
        dbr_string_t classname

    # --- lookup tables exported by libca (indexed by DBR_* / DBF_* code) ---
    const unsigned short dbr_size[]             # sizeof the whole DBR struct
    const unsigned short dbr_value_size[]       # sizeof one value element
    const unsigned short dbr_value_offset[]     # offsetof(struct, value)

    # C has both "enum dbr_value_class" and an array named dbr_value_class;
    # Cython has one namespace, so the enum gets a different Cython name.
    cdef enum dbr_value_class_t "dbr_value_class":
        dbr_class_int
        dbr_class_float
        dbr_class_string
        dbr_class_max
    const dbr_value_class_t dbr_value_class[]

    const int epicsTypeToDBR_XXXX[]
    const epicsType DBR_XXXXToEpicsType[]

    const char *dbf_text[]
    const short dbf_text_dim
    const char *dbf_text_invalid
    const char *dbr_text[]
    const short dbr_text_dim
    const char *dbr_text_invalid

    # --- function-like macros ----------------------------------------------
    unsigned dbr_size_n(long TYPE, long COUNT)
    void *dbr_value_ptr(const void *PDBR, long DBR_TYPE)

    bint dbf_type_is_valid(long type)
    bint dbr_type_is_valid(long type)
    bint dbr_type_is_plain(long type)
    bint dbr_type_is_STS(long type)
    bint dbr_type_is_TIME(long type)
    bint dbr_type_is_GR(long type)
    bint dbr_type_is_CTRL(long type)
    bint dbr_type_is_STRING(long type)
    bint dbr_type_is_SHORT(long type)
    bint dbr_type_is_FLOAT(long type)
    bint dbr_type_is_ENUM(long type)
    bint dbr_type_is_CHAR(long type)
    bint dbr_type_is_LONG(long type)
    bint dbr_type_is_DOUBLE(long type)

    const char *dbf_type_to_text(long type)
    const char *dbr_type_to_text(long type)
    long dbf_type_to_DBR(long type)
    long dbf_type_to_DBR_STS(long type)
    long dbf_type_to_DBR_TIME(long type)
    long dbf_type_to_DBR_GR(long type)
    long dbf_type_to_DBR_CTRL(long type)
